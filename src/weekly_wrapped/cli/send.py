"""`wrapped send`: email a week's recap to everyone who wants it."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer
from rich.markup import escape
from rich.text import Text

from weekly_wrapped.cli.app import app, err, get_settings, open_engine, out
from weekly_wrapped.weeks import last_complete_week, parse_week, week_label

_STYLE = {"sent": "green", "skipped": "yellow", "failed": "red"}


@app.command()
def send(
    week: Annotated[
        str | None,
        typer.Option(help="ISO week, e.g. 2026-W47. Default: the last complete week in UTC."),
    ] = None,
    resend: Annotated[
        bool, typer.Option("--resend", help="Send again, even to users who already got it.")
    ] = False,
) -> None:
    """Email the week's recap to every opted-in user with an email address.

    Each user gets it once: running this again skips whoever already has it. One
    user's failure never stops the others; the command then exits with status 1 and
    names whose email failed.
    """
    from weekly_wrapped.delivery.service import UserResult, send_week

    settings = get_settings()
    start: date = parse_week(week) if week else last_complete_week("UTC")

    def show(result: UserResult) -> None:
        style = _STYLE[result.result]
        out.print(
            f"[{style}]{result.result:<7}[/] {result.user_key:>4}  {escape(result.name)}"
            f"  [dim]{escape(result.detail or '')}[/]",
            highlight=False,
            soft_wrap=True,
        )

    out.print(f"Sending the recap of {week_label(start)} by {settings.email}")
    report = send_week(open_engine(settings), settings, start, resend, on_result=show)
    sent, skipped, failed = (report.count(r) for r in ("sent", "skipped", "failed"))
    out.print(f"[bold]{sent} sent, {skipped} skipped, {failed} failed.[/]")
    if report.failed:
        names = ", ".join(f"user {r.user_key} ({r.name})" for r in report.failed)
        failure = Text.assemble(("error: ", "bold red"), f"the recap email failed for {names}")
        err.print(failure, highlight=False, soft_wrap=True)
        raise typer.Exit(1)

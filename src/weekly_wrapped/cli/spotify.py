"""`wrapped login`, `wrapped poll` and `wrapped enrich`: connect Spotify, collect plays, fill details."""

from __future__ import annotations

import logging
from functools import partial
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from weekly_wrapped.cli.app import app, err, get_settings, open_engine, out, user_id
from weekly_wrapped.errors import UnknownUser

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from weekly_wrapped.config import Settings
    from weekly_wrapped.sources.spotify.enrich import EnrichReport
    from weekly_wrapped.sources.spotify.poller import PollOutcome, PollReport

OptionalUser = Annotated[
    int | None,
    typer.Option(
        "--user",
        "-u",
        parser=user_id,
        help="Only this user (see `wrapped users list`).",
    ),
]
_STYLE = {"ok": "green", "rate_limited": "yellow", "waiting": "yellow", "failed": "red"}
_EXIT_TRY_LATER = 75


def _logging(settings: Settings) -> None:
    """Our messages at WRAPPED_LOG_LEVEL; other libraries' only when they matter (or at DEBUG)."""
    others = logging.DEBUG if settings.log_level == "DEBUG" else logging.WARNING
    logging.basicConfig(level=others, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("weekly_wrapped").setLevel(settings.log_level)


@app.command()
def login(
    user: Annotated[
        int | None,
        typer.Option(
            "--user",
            "-u",
            parser=user_id,
            help="Connect this existing user. Default: the user of that Spotify account, "
            "created if new.",
        ),
    ] = None,
    no_browser: Annotated[
        bool,
        typer.Option(
            "--no-browser",
            help="Print the authorize URL instead of opening a browser (for headless servers).",
        ),
    ] = False,
    timeout: Annotated[
        int, typer.Option(min=10, max=3600, help="Seconds to wait for Spotify's answer.")
    ] = 300,
) -> None:
    """Connect a Spotify account: authorize in a browser, then keep the tokens, encrypted."""
    from weekly_wrapped.sources.spotify.login import login as run_login
    from weekly_wrapped.sources.spotify.oauth import redirect_target

    settings = get_settings()
    _logging(settings)
    engine = open_engine(settings)
    port = redirect_target(settings.spotify_redirect_uri).port
    show = partial(_show_url, headless=no_browser, port=port, timeout=timeout)
    connected = run_login(
        engine,
        settings,
        show_url=show,
        open_browser=not no_browser,
        user_key=user,
        timeout_s=timeout,
    )
    new = " (new user)" if connected.created else ""
    out.print(
        f"[green]Connected[/] Spotify account {connected.spotify_user_id} to user "
        f"{connected.user_key} ({escape(connected.display_name)}){new}. Poll with `wrapped poll`."
    )


def _show_url(url: str, *, headless: bool, port: int, timeout: int) -> None:
    """The authorize URL: on stdout for a headless login (scripts read it), else as a fallback."""
    if headless:
        err.print(
            "Open this URL in a browser. On a server reached over SSH, first forward the "
            f"callback port from your computer: [bold]ssh -L {port}:127.0.0.1:{port} <server>[/]"
        )
        print(url, flush=True)
    else:
        err.print(
            Text.assemble("Opening Spotify in your browser; if it does not open, go to:\n", url)
        )
    err.print(f"Waiting up to {timeout} s for Spotify's answer on port {port}…")


@app.command()
def poll(user: OptionalUser = None) -> None:
    """Fetch recently played for every connected user (or one) and load the new plays.

    One user's failure never stops the others; the command then exits with status 75
    and names whose poll failed.
    """
    from weekly_wrapped.delivery.reconnect import poll as run_poll

    settings = get_settings()
    _logging(settings)
    engine = open_engine(settings)
    report = run_poll(engine, settings, None if user is None else [user])
    if not report.outcomes:
        if user is not None:
            raise UnknownUser(f"no user with id {user}")
        out.print("No connected users to poll. Connect one with `wrapped login`.")
        return
    out.print(_outcome_table(report.outcomes))
    out.print(_poll_summary(report))
    if user is not None and report.outcomes[0].status in ("not_connected", "reauth_needed"):
        raise typer.Exit(1)
    failed = [o.user_key for o in report.outcomes if o.status == "failed"]
    if failed:
        err.print(
            Text.assemble(("error: ", "bold red"), f"polling failed for {_named(engine, failed)}"),
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(_EXIT_TRY_LATER)


def _named(engine: Engine, user_keys: list[int]) -> str:
    """``user 3 (Ada), user 7 (Bo)``."""
    from weekly_wrapped.warehouse import users

    with engine.connect() as conn:
        names = {u.user_key: u.display_name for u in users.list_users(conn)}
    return ", ".join(f"user {key} ({names.get(key, '?')})" for key in user_keys)


def _outcome_table(outcomes: list[PollOutcome]) -> Table:
    table = Table("user", "status", "plays", "note")
    for o in outcomes:
        status = Text(o.status.replace("_", " "), style=_STYLE.get(o.status, ""))
        table.add_row(str(o.user_key), status, str(o.plays), Text(o.message))
    return table


def _poll_summary(report: PollReport) -> str:
    outcomes = report.outcomes
    polled = [o for o in outcomes if o.status == "ok"]
    parts = [
        f"Polled {len(polled)} of {len(outcomes)} users: "
        f"{_count(sum(o.plays for o in polled), 'play')} fetched, "
        f"{report.stored.inserted:,} new in the warehouse"
    ]
    for status, words in (
        ("rate_limited", "rate limited"),
        ("waiting", "waiting out a rate limit"),
        ("reauth_needed", "need to log in again"),
        ("failed", "failed (try again later)"),
    ):
        count = sum(1 for o in outcomes if o.status == status)
        if count:
            parts.append(f"{count} {words}")
    gaps = sum(1 for o in outcomes if o.gap)
    if gaps:
        parts.append(f"{gaps} with a coverage gap")
    return "; ".join(parts) + "."


@app.command("enrich")
def enrich_command(
    user: OptionalUser = None,
    limit: Annotated[
        int | None,
        typer.Option(
            "--limit",
            min=0,
            help="At most this many requests to Spotify in this run. "
            "Default: WRAPPED_SPOTIFY_ENRICH_BUDGET.",
        ),
    ] = None,
) -> None:
    """Resolve name-only tracks and artists to Spotify, and fill album art, release dates, genres.

    A user whose Spotify connection fails is named, and another connected user's is
    used; the command then exits with status 1.
    """
    from weekly_wrapped.sources.spotify.enrich import enrich

    settings = get_settings()
    _logging(settings)
    engine = open_engine(settings)
    report = enrich(engine, settings, user_key=user, budget=limit)
    out.print(_enrich_summary(report))
    for user_key, reason in report.failed_users.items():
        failure = f"the Spotify connection of {_named(engine, [user_key])} failed: {reason}"
        err.print(Text.assemble(("error: ", "bold red"), failure), highlight=False, soft_wrap=True)
    if report.stopped:
        err.print(f"[yellow]Stopped early:[/] {escape(report.stopped)}")
        raise typer.Exit(_EXIT_TRY_LATER)
    if report.failed_users:
        raise typer.Exit(1)


def _enrich_summary(report: EnrichReport) -> str:
    lines = [
        f"{_count(report.requests, 'request')} to Spotify: "
        f"{_count(report.tracks_resolved, 'track')} and "
        f"{_count(report.artists_resolved, 'artist')} matched to Spotify, details filled for "
        f"{report.details_filled:,}, {report.not_found:,} not found.",
    ]
    if report.reused:
        lines.append(f"{report.reused:,} more matched from earlier lookups, without a request.")
    if report.left:
        lines.append(
            f"{_count(report.left, 'lookup')} left: run `wrapped enrich` again to continue."
        )
    else:
        lines.append("Nothing left to look up.")
    return "\n".join(lines)


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}{'' if number == 1 else 's'}"

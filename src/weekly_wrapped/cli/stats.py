"""`wrapped stats`: the weekly numbers over any range of days, as a table or as JSON."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Literal
from zoneinfo import ZoneInfo

import typer
from rich.markup import escape
from rich.table import Table

from weekly_wrapped.cli.app import (
    UserOption,
    app,
    get_settings,
    json_for_terminal,
    open_engine,
    out,
)
from weekly_wrapped.weeks import parse_day

if TYPE_CHECKING:
    from weekly_wrapped.insights.models import Entry, ListeningStats

DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@app.command()
def stats(
    user: UserOption,
    from_day: Annotated[
        str | None,
        typer.Option(
            "--from",
            show_default=False,
            help="First day (YYYY-MM-DD) in the user's timezone. Default: the day of their first play.",
        ),
    ] = None,
    to_day: Annotated[
        str | None,
        typer.Option(
            "--to",
            show_default=False,
            help="Last day (YYYY-MM-DD), included. Default: today in the user's timezone.",
        ),
    ] = None,
    format: Annotated[
        Literal["table", "json"], typer.Option("--format", "-f", help="table or json.")
    ] = "table",
    include_incognito: Annotated[
        bool, typer.Option("--include-incognito", help="Count incognito plays too.")
    ] = False,
) -> None:
    """Stats over any range of days (a month, a year, all time), defined as the weekly ones."""
    from weekly_wrapped.insights.stats import InvalidPeriod, first_listening_day, range_stats
    from weekly_wrapped.warehouse import users

    asked_first = parse_day(from_day, "--from") if from_day else None
    asked_last = parse_day(to_day, "--to") if to_day else None
    engine = open_engine(get_settings())
    with engine.connect() as conn:
        person = users.get_user(conn, user)
        last = asked_last or datetime.now(ZoneInfo(person.timezone)).date()
        first = asked_first or first_listening_day(conn, user) or last
        if last < first:
            raise InvalidPeriod(f"--to {last} comes before --from {first}")
        numbers = range_stats(
            conn, user, first, last + timedelta(days=1), include_incognito=include_incognito
        )
    if format == "json":
        print(json_for_terminal(numbers.model_dump_json(indent=2)))
        return
    print_stats(numbers, person.display_name, last)


def print_stats(numbers: ListeningStats, name: str, last: date) -> None:
    """The stats as a person reads them in a terminal."""
    out.print(
        f"[bold]{escape(name)}[/] · {numbers.period_start:%d %b %Y} – {last:%d %b %Y} ({numbers.timezone})"
    )
    for gap in numbers.coverage.gaps:
        out.print(f"[yellow]Plays may be missing[/] {gap.start:%Y-%m-%d %H:%M} – "
                  f"{gap.end:%Y-%m-%d %H:%M} UTC: {escape(gap.reason)}")  # fmt: skip
    if numbers.plays == 0 and numbers.podcasts.minutes == 0:
        out.print("No listening in this period.")
        return
    out.print(
        f"{numbers.minutes_listened:,.1f} minutes · {numbers.streams:,} streams · "
        f"{numbers.skips:,} skips · {numbers.distinct_artists:,} artists · "
        f"{numbers.distinct_tracks:,} songs"
    )
    for title, entries in (
        ("top tracks", numbers.top_tracks),
        ("top artists", numbers.top_artists),
        ("top albums", numbers.top_albums),
        ("top genres", numbers.top_genres),
        ("top shows", numbers.podcasts.top_shows),
    ):
        if entries:
            out.print(_ranking(title, entries))
    out.print(_rhythm(numbers), markup=False)


def _ranking(title: str, entries: list[Entry]) -> Table:
    by = any(item.artist for item in entries)
    table = Table(title, *(["by"] if by else []), "streams", "minutes")
    for item in entries:
        artist = [escape(item.artist or "")] if by else []
        table.add_row(escape(item.name), *artist, f"{item.streams:,}", f"{item.minutes:,.1f}")
    return table


def _rhythm(numbers: ListeningStats) -> str:
    lines = [
        f"{numbers.sessions.count:,} sessions, the longest {numbers.sessions.longest_minutes:,.1f}"
        f" minutes · longest streak {numbers.streak_days} days",
        f"{numbers.new_artists_total:,} new artists · {numbers.new_tracks_total:,} new songs · "
        f"{numbers.rediscoveries_total:,} artists back after 8 weeks or more",
    ]
    if numbers.busiest_day is not None and numbers.peak_hour is not None:
        lines.append(
            f"Busiest weekday {DAY_NAMES[numbers.busiest_day]} · peak hour {numbers.peak_hour:02d}:00"
        )
    if numbers.on_repeat is not None:
        repeat = numbers.on_repeat
        lines.append(
            f"On repeat: {repeat.name} by {repeat.artist}, {repeat.plays} times on {repeat.day}"
        )
    if numbers.podcasts.minutes > 0:
        lines.append(
            f"Podcasts: {numbers.podcasts.minutes:,.1f} minutes, {numbers.podcasts.episodes} episodes"
        )
    return "\n".join(lines)

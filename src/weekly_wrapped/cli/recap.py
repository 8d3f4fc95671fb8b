"""`wrapped recap`: build a week's recap, store it, and show it as text, JSON or a page."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer
from rich.console import Console, Group, RenderableType
from rich.markup import escape
from rich.panel import Panel
from rich.style import Style
from rich.table import Table
from rich.text import Text

from weekly_wrapped.cli.app import (
    SafeConsole,
    UserOption,
    app,
    err,
    get_settings,
    json_for_terminal,
    open_engine,
    out,
)
from weekly_wrapped.insights import story as fmt
from weekly_wrapped.weeks import parse_week

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from weekly_wrapped.insights.models import ListeningStats, Story
    from weekly_wrapped.insights.recap import Recap

RecapFormat = Literal["text", "json", "html"]
_EIGHTHS = " ▏▎▍▌▋▊▉"
_SHADES = " ░▒▓█"


@app.command()
def recap(
    user: UserOption,
    week: Annotated[
        str | None,
        typer.Option(help="ISO week, e.g. 2026-W47. Default: the last complete week."),
    ] = None,
    format: Annotated[
        RecapFormat, typer.Option("--format", "-f", help="text, json or html.")
    ] = "text",
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Write the recap to this file instead of printing it. "
            "Default for html: <data dir>/recaps/recap-<user>-<week>.html.",
        ),
    ] = None,
    send: Annotated[
        bool, typer.Option("--send", help="Also email it (once; see `wrapped send`).")
    ] = False,
    resend: Annotated[
        bool, typer.Option("--resend", help="With --send: email it again even if it went out.")
    ] = False,
) -> None:
    """Build one week's recap (numbers, story, picks from your history), store it, show it."""
    from weekly_wrapped.insights.recap import build_recap
    from weekly_wrapped.insights.writers import writer_for

    settings = get_settings()
    week_start = parse_week(week) if week else None
    engine = open_engine(settings)
    built = build_recap(engine, user, week_start, writer_for(settings))
    _show(built, format, output)
    if send:
        _send(engine, built, resend)


def _send(engine: Engine, built: Recap, resend: bool) -> None:
    # Imported here: the charts load matplotlib, which the other formats do not need.
    from weekly_wrapped.delivery.service import send_recap

    settings = get_settings()
    outcome = send_recap(engine, settings, built.user.user_key, built.week_start, resend)
    err.print(
        f"email {outcome.result}: {escape(outcome.detail or outcome.status)}", highlight=False
    )
    if outcome.result == "failed":
        raise typer.Exit(1)


def _show(built: Recap, format: RecapFormat, output: Path | None) -> None:
    from weekly_wrapped.insights.recap import html_path, write_html

    settings = get_settings()
    if format == "html":
        print(write_html(built, output or html_path(settings.data_dir, built)))
    elif format == "json":
        _emit(json_for_terminal(json.dumps(built.to_json(), indent=2, ensure_ascii=False)), output)
    elif output is not None:
        with output.open("w", encoding="utf-8") as file:
            print_recap(built, SafeConsole(file=file, width=100, color_system=None))
        print(output)
    else:
        print_recap(built, out)


def _emit(document: str, output: Path | None) -> None:
    if output is None:
        print(document)
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(document + "\n", encoding="utf-8")
    print(output)


def print_recap(recap: Recap, console: Console) -> None:
    """The recap as a person reads it in a terminal: story, numbers, charts, picks."""
    stats, story = recap.stats, recap.story
    console.print(_hero(recap))
    if not stats.coverage.complete:
        console.print(Text("Some plays may be missing this week, so these numbers may be low.",
                           style="yellow"))  # fmt: skip
    if stats.plays > 0:
        console.print(_numbers(stats))
        console.print(_daily_chart(stats))
        console.print(_top_artists(stats))
        console.print(_top_tracks(stats))
        console.print(_heatmap(stats))
    console.print(_moments(story))
    if story.recommendations:
        console.print(_picks(story))
    console.print(Text(story.closing, style="italic"), justify="center")
    console.print(Text(f"written by the {recap.writer} writer", style="dim"), justify="center")


def _hero(recap: Recap) -> Panel:
    end = recap.week_start + timedelta(days=6)
    title = (
        f"{recap.user.display_name} · {recap.week} · "
        f"{recap.week_start.day} {recap.week_start:%b} – {end.day} {end:%b %Y}"
    )
    body = Group(
        Text(recap.story.headline, style="bold green"), Text(""), Text(recap.story.summary)
    )
    return Panel(body, title=Text(title), subtitle=Text(recap.user.timezone), padding=(1, 2))


def bar(value: float, biggest: float, width: int = 30) -> str:
    """A horizontal bar `width` cells long at `biggest`, in eighths of a cell."""
    if biggest <= 0 or value <= 0:
        return ""
    full, part = divmod(round(value / biggest * width * 8), 8)
    return "█" * full + (_EIGHTHS[part] if part else "")


def _numbers(stats: ListeningStats) -> Table:
    table = Table.grid(padding=(0, 3))
    figures = [
        (fmt.minutes(stats.minutes_listened), "minutes"),
        (fmt.count(stats.streams), "streams"),
        (fmt.count(stats.skips), "skips"),
        (fmt.count(stats.distinct_artists), "artists"),
        (fmt.count(stats.distinct_tracks), "tracks"),
        (fmt.count(stats.streak_days), "day streak"),
    ]
    for _ in figures:
        table.add_column(justify="center")
    table.add_row(*(Text(value, style="bold") for value, _ in figures))
    table.add_row(*(Text(label, style="dim") for _, label in figures))
    return table


def _daily_chart(stats: ListeningStats) -> Table:
    table = Table(title="Minutes per day", title_justify="left", box=None, show_header=False)
    table.add_column(style="dim")
    table.add_column(style="green", no_wrap=True)
    table.add_column(justify="right")
    busiest = max(stats.daily_minutes, default=0.0)
    for day, minutes in zip(fmt.DAY_NAMES, stats.daily_minutes, strict=False):
        table.add_row(day[:3], bar(minutes, busiest), fmt.minutes(minutes))
    return table


def _top_artists(stats: ListeningStats) -> Table:
    table = Table("artist", "", "min", title="Top artists", title_justify="left", box=None)
    biggest = max((a.minutes for a in stats.top_artists), default=0.0)
    for artist in stats.top_artists:
        table.add_row(Text(artist.name), Text(bar(artist.minutes, biggest, 12), style="green"),
                      fmt.minutes(artist.minutes))  # fmt: skip
    return table


def _top_tracks(stats: ListeningStats) -> Table:
    table = Table("track", "by", "streams", title="Top tracks", title_justify="left", box=None)
    for track in stats.top_tracks:
        table.add_row(Text(track.name), Text(track.artist or "", style="dim"),
                      fmt.count(track.streams))  # fmt: skip
    return table


def _heatmap(stats: ListeningStats) -> Panel:
    hottest = max((m for row in stats.heatmap for m in row), default=0.0)
    lines = [Text("     " + "".join(f"{h:<12}" for h in range(0, 24, 6)), style="dim")]
    for day, row in zip(fmt.DAY_NAMES, stats.heatmap, strict=False):
        cells = "".join(_shade(minutes, hottest) * 2 for minutes in row)
        lines.append(Text.assemble((f"{day[:3]}  ", "dim"), (cells, "green")))
    if stats.peak_hour is not None and stats.busiest_day is not None:
        peak = f"peak hour {fmt.clock(stats.peak_hour)} · busiest day {fmt.day_name(stats.busiest_day)}"
        lines.append(Text(peak, style="dim"))
    return Panel(Group(*lines), title="When you listened", title_align="left", expand=False)


def _shade(minutes: float, hottest: float) -> str:
    if minutes <= 0 or hottest <= 0:
        return _SHADES[0]
    return _SHADES[max(1, round(minutes / hottest * (len(_SHADES) - 1)))]


def _moments(story: Story) -> RenderableType:
    parts: list[RenderableType] = [Text(story.mood, style="italic")]
    for highlight in story.highlights:
        parts.append(Text.assemble(("• ", "green"), highlight))
    return Panel(Group(*parts), title="Mood and highlights", title_align="left")


def _picks(story: Story) -> Table:
    table = Table("track", "artist", "why", title="From your own history", title_justify="left")
    for pick in story.recommendations:
        name = Text(pick.track, style=Style(link=pick.spotify_url) if pick.spotify_url else "")
        table.add_row(name, Text(pick.artist), Text(pick.why, style="dim"))
    return table

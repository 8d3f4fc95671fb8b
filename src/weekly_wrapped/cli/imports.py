"""`wrapped import`: years of history from Spotify's privacy export, in one command."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from weekly_wrapped.cli.app import UserOption, app, err, get_settings, open_engine, out

if TYPE_CHECKING:
    from weekly_wrapped.imports import ImportSummary
    from weekly_wrapped.sources.export_files import ExportFile

PathsArgument = Annotated[
    list[Path],
    typer.Argument(
        help="my_spotify_data.zip, the folder it unpacks to, or single history files.",
        show_default=False,
    ),
]


@app.command("import")
def import_export(paths: PathsArgument, user: UserOption) -> None:
    """Import your Spotify privacy export: every play once, however often you run it."""
    from weekly_wrapped import imports
    from weekly_wrapped.bus.factory import open_bus
    from weekly_wrapped.sources.export_files import ArchiveLimits
    from weekly_wrapped.sources.json_array import BrokenJson

    settings = get_settings()
    engine = open_engine(settings)
    bus = open_bus(engine, settings)
    try:
        with ImportBar(err) as bar:
            summary = imports.import_export(
                engine,
                user,
                paths,
                batch_size=settings.batch_size,
                commit_rows=settings.import_commit_rows,
                max_future_skew=timedelta(seconds=settings.max_future_skew_s),
                progress=bar,
                archive_limits=ArchiveLimits(
                    settings.import_max_archive_bytes, settings.import_max_archive_entries
                ),
                bus=bus,
            )
    except KeyboardInterrupt:
        err.print("Interrupted. Run the same command again to finish the import.")
        raise typer.Exit(130) from None
    print_summary(summary, out)
    if settings.bus == "kafka":
        out.print(f"Published to {settings.kafka_topic}: `wrapped process` writes the plays.")
    for failed in summary.failed:
        err.print(
            Text.assemble(("error: ", "bold red"), failed.error or ""),
            highlight=False,
            soft_wrap=True,
        )
    if summary.failed:
        err.print(
            Text.assemble(("hint: ", "dim"), BrokenJson.hint), highlight=False, soft_wrap=True
        )
        raise typer.Exit(1)


class _RowRate(ProgressColumn):
    """Rows read per second so far."""

    def render(self, task: Task) -> Text:
        elapsed = task.elapsed or 0.0
        rate = task.fields["rows"] / elapsed if elapsed > 0 else 0.0
        return Text(f"{rate:,.0f} rows/s", style="progress.data.speed")


class ImportBar:
    """A progress bar showing the file, files done, rows read and rows per second."""

    def __init__(self, console: Console) -> None:
        self._progress = Progress(
            TextColumn("[bold]{task.description}", table_column=None),
            BarColumn(),
            TextColumn("file {task.fields[file]}/{task.fields[files]}"),
            TextColumn("{task.fields[rows]:,} rows"),
            _RowRate(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self._task = self._progress.add_task("finding files", total=None, file=0, files=0, rows=0)

    def __enter__(self) -> ImportBar:
        self._progress.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._progress.stop()

    def found(self, files: Sequence[ExportFile]) -> None:
        total = sum(f.size for f in files)
        self._progress.update(self._task, total=total, files=len(files))

    def started(self, file: ExportFile) -> None:
        number = self._progress.tasks[0].fields["file"] + 1
        shown = file.name if len(file.name) <= 48 else "…" + file.name[-47:]
        self._progress.update(self._task, description=escape(shown), file=number)

    def advanced(self, bytes_read: int, rows: int) -> None:
        task = self._progress.tasks[0]
        self._progress.update(self._task, advance=bytes_read, rows=task.fields["rows"] + rows)


def print_summary(summary: ImportSummary, console: Console) -> None:
    """Files, rows read, plays added, duplicates, skipped rows, date range, years."""
    again = " (finishing an interrupted import)" if summary.resumed else ""
    console.print(
        f"[bold]Imported {len(summary.imported)} of {len(summary.files)} history files[/]"
        f" · job {summary.job_id}{again}"
    )
    if summary.first_played and summary.last_played:
        console.print(
            f"Plays from {summary.first_played:%Y-%m-%d} to {summary.last_played:%Y-%m-%d}"
        )
    console.print(_counts(summary))
    if summary.years:
        console.print(_years(summary))
    if summary.ignored:
        ignored = escape(", ".join(summary.ignored))
        console.print(f"[dim]Not listening history, left alone: {ignored}[/]")
    for unread in summary.unread:
        console.print(f"[yellow]Skipped, not read:[/] {escape(unread)}", soft_wrap=True)


def _counts(summary: ImportSummary) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(justify="left")
    table.add_column(justify="right")
    table.add_column(justify="left", style="dim")
    table.add_row("rows read", f"{summary.rows_read:,}", "")
    table.add_row("plays added", f"{summary.plays_added:,}", "")
    table.add_row("duplicates", f"{summary.duplicates:,}", "already in the warehouse")
    table.add_row("merged", f"{summary.merged:,}", "the same plays from another source")
    skipped = summary.skipped
    table.add_row("skipped", f"{sum(skipped.values()):,}", "")
    for reason, count in skipped.most_common():
        table.add_row("", f"{count:,}", reason)
    if summary.incognito:
        table.add_row("incognito", f"{summary.incognito:,}", "kept, and left out of stats")
    return table


def _years(summary: ImportSummary) -> Table:
    table = Table(
        "year", "plays", "minutes", "podcast minutes", "top artist", title="Music by year"
    )
    for year in summary.years:
        table.add_row(
            str(year.year),
            f"{year.plays:,}",
            f"{year.minutes:,.1f}",
            f"{year.podcast_minutes:,.1f}",
            Text(year.top_artist or ""),
        )
    return table

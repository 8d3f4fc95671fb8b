"""Importing a Spotify privacy export into the warehouse: every file, once, resumably.

Each history file is read as a stream and written in **one transaction**, with
its line in the `import_job` record: a damaged file leaves nothing behind, and
an interrupted import run again skips the files already done and finishes the
job without counting anything twice. Rows already in the warehouse are found
by event id before they are even validated, so importing the same files again
writes nothing and takes a fraction of the time.
"""

from __future__ import annotations

import zipfile
import zlib
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine

from weekly_wrapped.errors import ImportFileError
from weekly_wrapped.processing.embedded import EmbeddedProcessor, cyclic_gc_paused
from weekly_wrapped.sources.export import Candidate, ExportRows, looks_like_history, sniff
from weekly_wrapped.sources.export_files import (
    DEFAULT_LIMITS,
    ArchiveLimits,
    ExportFile,
    find_export_files,
)
from weekly_wrapped.sources.json_array import JsonArrayReader, NotAnArray
from weekly_wrapped.warehouse import import_jobs, queries, users
from weekly_wrapped.warehouse.writer import write_quarantine

REFUSED = "refused, e.g. a time in the future (in quarantine)"


class ImportProgress(Protocol):
    """Told how an import goes, to show a progress bar."""

    def found(self, files: Sequence[ExportFile]) -> None: ...

    def started(self, file: ExportFile) -> None: ...

    def advanced(self, bytes_read: int, rows: int) -> None: ...


@dataclass
class FileOutcome:
    """What importing one file did."""

    name: str
    fingerprint: str
    format: str | None = None
    rows: int = 0
    added: int = 0
    duplicates: int = 0
    merged: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    incognito: int = 0
    first_played: datetime | None = None
    last_played: datetime | None = None
    error: str | None = None

    def record(self) -> dict[str, Any]:
        """The JSON kept in `import_job.files_done`."""
        record = asdict(self)
        record["skipped"] = dict(self.skipped)
        for key in ("first_played", "last_played"):
            record[key] = record[key].isoformat() if record[key] else None
        return record

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> FileOutcome:
        values = dict(record)
        values["skipped"] = Counter(values.get("skipped") or {})
        for key in ("first_played", "last_played"):
            values[key] = datetime.fromisoformat(values[key]) if values.get(key) else None
        return cls(**values)


@dataclass
class ImportSummary:
    """The end of an import: files, rows, plays added, duplicates, skips, dates, years."""

    job_id: int
    resumed: bool
    files: list[FileOutcome]
    ignored: list[str]
    years: list[queries.YearTotals]
    unread: list[str] = field(default_factory=list)
    """Files found but not opened, each with the reason: a zip inside the zip."""

    @property
    def imported(self) -> list[FileOutcome]:
        return [f for f in self.files if f.error is None]

    @property
    def failed(self) -> list[FileOutcome]:
        return [f for f in self.files if f.error is not None]

    @property
    def rows_read(self) -> int:
        return sum(f.rows for f in self.imported)

    @property
    def plays_added(self) -> int:
        return sum(f.added for f in self.imported)

    @property
    def duplicates(self) -> int:
        return sum(f.duplicates for f in self.imported)

    @property
    def merged(self) -> int:
        return sum(f.merged for f in self.imported)

    @property
    def incognito(self) -> int:
        return sum(f.incognito for f in self.imported)

    @property
    def skipped(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for f in self.imported:
            total.update(f.skipped)
        return total

    @property
    def first_played(self) -> datetime | None:
        return min((f.first_played for f in self.imported if f.first_played), default=None)

    @property
    def last_played(self) -> datetime | None:
        return max((f.last_played for f in self.imported if f.last_played), default=None)


def import_export(
    engine: Engine,
    user_key: int,
    paths: Sequence[Path],
    *,
    batch_size: int = 5000,
    max_future_skew: timedelta = timedelta(minutes=5),
    progress: ImportProgress | None = None,
    archive_limits: ArchiveLimits = DEFAULT_LIMITS,
) -> ImportSummary:
    """Import a privacy export (zips, folders or files) for a user; see the module docs."""
    with engine.begin() as conn:
        person = users.get_user(conn, user_key)
        job, resumed = import_jobs.resume_or_start(conn, user_key, source_label(paths))
    try:
        found = find_export_files(paths, archive_limits)
    except ImportFileError as exc:
        with engine.begin() as conn:
            import_jobs.finish(conn, job.job_id, "failed", 0, str(exc))
        raise
    files = [f for f in found if f.skipped is None]
    if progress is not None:
        progress.found(files)
    processor = EmbeddedProcessor(engine, batch_size=batch_size, max_future_skew=max_future_skew)
    loader = _Loader(processor, user_key, job.job_id, progress)
    done = {(f["name"], f["fingerprint"]): FileOutcome.from_record(f) for f in job.files_done}
    outcomes: list[FileOutcome] = []
    ignored: list[str] = []
    for file in files:
        earlier = done.get((file.name, file.fingerprint))
        outcome = loader.load(file) if earlier is None else loader.already_done(file, earlier)
        if outcome is None:
            ignored.append(file.name)
        else:
            outcomes.append(outcome)
    summary = _finish(engine, person, job.job_id, resumed, outcomes, ignored)
    summary.unread = [f"{f.name} ({f.skipped})" for f in found if f.skipped is not None]
    return summary


def source_label(paths: Sequence[Path]) -> str:
    """What the job record says was imported; a rerun with the same paths resumes the job."""
    return "\n".join(sorted(str(p.resolve()) for p in paths))


class _Loader:
    """Loads one file at a time, each in its own transaction with its job record."""

    def __init__(
        self,
        processor: EmbeddedProcessor,
        user_key: int,
        job_id: int,
        progress: ImportProgress | None,
    ) -> None:
        self.processor = processor
        self.user_key = user_key
        self.job_id = job_id
        self.progress = progress

    def load(self, file: ExportFile) -> FileOutcome | None:
        """Import one file; None when it is not listening history (e.g. Playlist1.json)."""
        if self.progress is not None:
            self.progress.started(file)
        outcome = FileOutcome(file.name, file.fingerprint)
        try:
            with cyclic_gc_paused(), self.processor.engine.begin() as conn:
                if not self._load(conn, file, outcome):
                    return None
                import_jobs.record_file(conn, self.job_id, outcome.record())
        except NotAnArray:
            if not (file.named or looks_like_history(file.name)):
                return None
            return FileOutcome(file.name, file.fingerprint, error=_not_history(file))
        except ImportFileError as exc:
            return FileOutcome(file.name, file.fingerprint, outcome.format, error=str(exc))
        return outcome

    def already_done(self, file: ExportFile, outcome: FileOutcome) -> FileOutcome:
        """A file an interrupted run of this job imported: counted, not read again."""
        if self.progress is not None:
            self.progress.started(file)
            self.progress.advanced(file.size, outcome.rows)
        return outcome

    def _load(self, conn: Connection, file: ExportFile, outcome: FileOutcome) -> bool:
        export: ExportRows | None = None
        pending: list[Candidate] = []
        for elements in self._elements(file):
            if export is None:
                export = self._rows_of(file, elements[0])
                if export is None:
                    return False
                outcome.format = export.format
            pending += export.candidates(elements)
            while len(pending) >= self.processor.batch_size:
                self._write(conn, export, pending[: self.processor.batch_size], outcome)
                del pending[: self.processor.batch_size]
        if export is None:
            return file.named or looks_like_history(file.name)
        self._write(conn, export, pending, outcome)
        _count_rows(outcome, export)
        return True

    def _elements(self, file: ExportFile) -> Iterator[list[Any]]:
        """The file's rows, a slice at a time, reporting progress."""
        try:
            with file.open() as stream:
                reader = JsonArrayReader(stream, file.name)
                seen = 0
                for elements in reader:
                    if self.progress is not None:
                        self.progress.advanced(reader.bytes_read - seen, len(elements))
                    seen = reader.bytes_read
                    yield elements
        except (zipfile.BadZipFile, zlib.error, OSError) as exc:
            raise ImportFileError(f"{file.name} could not be read: {exc}") from None

    def _rows_of(self, file: ExportFile, first_row: Any) -> ExportRows | None:
        export_format = sniff(first_row)
        if export_format is not None:
            return ExportRows(export_format, self.user_key)
        if file.named or looks_like_history(file.name):
            raise ImportFileError(_not_history(file))
        return None

    def _write(
        self,
        conn: Connection,
        export: ExportRows,
        candidates: Sequence[Candidate],
        outcome: FileOutcome,
    ) -> None:
        known = queries.known_play_ids(conn, [c.event_id for c in candidates])
        fresh = [c for c in candidates if c.event_id not in known]
        result = self.processor.write_new(conn, export.events(fresh))
        write_quarantine(conn, export.take_rejected(), stage="import")
        outcome.added += result.inserted
        outcome.duplicates += len(candidates) - len(fresh) + result.duplicates
        outcome.merged += result.merged
        if result.quarantined:
            outcome.skipped[REFUSED] += result.quarantined


def _count_rows(outcome: FileOutcome, export: ExportRows) -> None:
    counts = export.counts
    outcome.rows = counts.rows
    outcome.skipped.update(counts.skipped)
    outcome.incognito = counts.incognito
    outcome.first_played, outcome.last_played = counts.first_played, counts.last_played


def _not_history(file: ExportFile) -> str:
    return (
        f"{file.name} is not listening history: expected the rows of "
        "Streaming_History_Audio_*.json or StreamingHistory_music_*.json"
    )


def _finish(
    engine: Engine,
    person: users.User,
    job_id: int,
    resumed: bool,
    outcomes: list[FileOutcome],
    ignored: list[str],
) -> ImportSummary:
    errors = [o.error for o in outcomes if o.error]
    status: import_jobs.Status = "partial" if errors else "done"
    summary = ImportSummary(job_id, resumed, outcomes, ignored, [])
    with engine.begin() as conn:
        import_jobs.finish(conn, job_id, status, len(outcomes), "\n".join(errors) or None)
        summary.years = _years(conn, person, summary)
    return summary


def _years(
    conn: Connection, person: users.User, summary: ImportSummary
) -> list[queries.YearTotals]:
    """The years the export covers, as the warehouse now holds them."""
    first, last = summary.first_played, summary.last_played
    if first is None or last is None:
        return []
    zone = ZoneInfo(person.timezone)
    first_year, last_year = first.astimezone(zone).year, last.astimezone(zone).year
    return queries.yearly_totals(conn, person.user_key, first_year, last_year)

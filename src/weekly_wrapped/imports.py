"""Importing a Spotify privacy export into the warehouse: every file, once, resumably.

Each history file is read as a stream, its plays published to the bus, and its
progress recorded in the `import_job` record every `commit_rows` rows, once the
bus has acknowledged every play before that point. The local bus writes in the
same transaction as the progress, so plays and progress commit together; a bus
that delivers elsewhere (Kafka) acknowledges first, and the progress follows.
Readers and other commands never wait long for the database, and an
interrupted import run again skips the rows already done and finishes the job
without counting anything twice. Rows already in the
warehouse are found by event id before they are even validated, so importing
the same files again writes nothing and takes a fraction of the time. One
import per user runs at a time.
"""

from __future__ import annotations

import zipfile
import zlib
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine

from weekly_wrapped.bus import Bus, acknowledged
from weekly_wrapped.bus.factory import local_bus
from weekly_wrapped.errors import ImportFileError
from weekly_wrapped.processing.embedded import cyclic_gc_paused
from weekly_wrapped.rows import SPOTIFY_BEGAN
from weekly_wrapped.sources.export import (
    Candidate,
    ExportRows,
    RowCounts,
    looks_like_history,
    sniff,
)
from weekly_wrapped.sources.export_files import (
    DEFAULT_LIMITS,
    ArchiveLimits,
    ExportFile,
    find_export_files,
)
from weekly_wrapped.sources.json_array import JsonArrayReader, NotAnArray
from weekly_wrapped.warehouse import import_jobs, queries, users
from weekly_wrapped.warehouse.writer import WriteResult, write_quarantine

REFUSED = "refused: dated before 2006 or in the future (in quarantine)"
COMMIT_ROWS = 20_000
"""Rows committed at once by default: a few seconds of work, well within SQLite's busy timeout."""


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
    finished: bool = True
    """False while only the first `rows` rows are imported: a rerun goes on after them."""

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

    # Totals count failed files too: the batches committed before a file broke stay imported.
    @property
    def rows_read(self) -> int:
        return sum(f.rows for f in self.files)

    @property
    def plays_added(self) -> int:
        return sum(f.added for f in self.files)

    @property
    def duplicates(self) -> int:
        return sum(f.duplicates for f in self.files)

    @property
    def merged(self) -> int:
        return sum(f.merged for f in self.files)

    @property
    def incognito(self) -> int:
        return sum(f.incognito for f in self.files)

    @property
    def skipped(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for f in self.files:
            total.update(f.skipped)
        return total

    @property
    def first_played(self) -> datetime | None:
        return min((f.first_played for f in self.files if f.first_played), default=None)

    @property
    def last_played(self) -> datetime | None:
        return max((f.last_played for f in self.files if f.last_played), default=None)


def import_export(
    engine: Engine,
    user_key: int,
    paths: Sequence[Path],
    *,
    batch_size: int = 5000,
    commit_rows: int = COMMIT_ROWS,
    max_future_skew: timedelta = timedelta(minutes=5),
    progress: ImportProgress | None = None,
    archive_limits: ArchiveLimits = DEFAULT_LIMITS,
    bus: Bus | None = None,
) -> ImportSummary:
    """Import a privacy export (zips, folders or files) for a user; see the module docs.

    Plays go to `bus`; by default, the local bus. Raises `ImportRunning` at once
    while another import for the user runs.
    """
    with engine.connect() as conn:
        person = users.get_user(conn, user_key)
    with import_jobs.claimed(engine, user_key):
        job, resumed = _start_job(engine, user_key, paths)
        try:
            found = find_export_files(paths, archive_limits)
        except ImportFileError as exc:
            with engine.begin() as conn:
                import_jobs.finish(conn, job.job_id, "failed", 0, str(exc))
            raise
        files = [f for f in found if f.skipped is None]
        if progress is not None:
            progress.found(files)
        bus = bus or local_bus(engine, batch_size=batch_size, max_future_skew=max_future_skew)
        loader = _Loader(
            engine,
            bus,
            user_key,
            job.job_id,
            progress,
            batch_size=batch_size,
            commit_rows=commit_rows,
            max_future_skew=max_future_skew,
        )
        earlier = {
            (f["name"], f["fingerprint"]): FileOutcome.from_record(f) for f in job.files_done
        }
        outcomes: list[FileOutcome] = []
        ignored: list[str] = []
        for file in files:
            outcome = loader.load_or_skip(file, earlier.get((file.name, file.fingerprint)))
            if outcome is None:
                ignored.append(file.name)
            else:
                outcomes.append(outcome)
        summary = _finish(engine, person, job.job_id, resumed, outcomes, ignored)
        summary.unread = [f"{f.name} ({f.skipped})" for f in found if f.skipped is not None]
        return summary


def _start_job(
    engine: Engine, user_key: int, paths: Sequence[Path]
) -> tuple[import_jobs.ImportJob, bool]:
    """The job for these paths, taking over one a killed import left unfinished."""
    with engine.begin() as conn:
        import_jobs.set_aside_interrupted(conn, user_key)
        return import_jobs.resume_or_start(conn, user_key, source_label(paths))


def source_label(paths: Sequence[Path]) -> str:
    """What the job record says was imported; a rerun with the same paths resumes the job."""
    return "\n".join(sorted(str(p.resolve()) for p in paths))


@dataclass
class _FileRun:
    """One file being imported: what is committed, and what is written since."""

    committed: FileOutcome
    """The file's line in the job record, as last committed (an earlier run's, at first)."""
    outcome: FileOutcome
    """What this run wrote, on top of the committed rows; `export.counts` holds the rows read."""
    export: ExportRows | None = None
    pending: list[Candidate] = field(default_factory=list)
    replay: int = 0
    """Rows an earlier run imported, still to be read again (only to number identical rows)."""

    @classmethod
    def of(cls, file: ExportFile, earlier: FileOutcome | None) -> _FileRun:
        committed = earlier or FileOutcome(file.name, file.fingerprint, finished=False)
        own = replace(committed, skipped=Counter(committed.skipped), error=None)
        return cls(committed, own, replay=committed.rows)

    def skip_imported(self, elements: list[Any]) -> list[Any]:
        """The rows not yet imported; the ones an earlier run did are only read again."""
        if self.replay == 0 or self.export is None:
            return elements
        head = elements[: self.replay]
        self.export.candidates(head)
        self.replay -= len(head)
        if self.replay == 0:
            self.export.take_rejected()  # quarantined by the earlier run
            self.export.counts = RowCounts()  # counted in its committed line
        return elements[len(head) :]

    def totals(self, *, finished: bool) -> FileOutcome:
        """The file's line in the job record: committed rows plus this run's."""
        counts = self.export.counts if self.export is not None else RowCounts()
        return replace(
            self.outcome,
            rows=self.outcome.rows + counts.rows,
            skipped=self.outcome.skipped + counts.skipped,
            incognito=self.outcome.incognito + counts.incognito,
            finished=finished,
        )

    @property
    def uncommitted_rows(self) -> int:
        counts = self.export.counts if self.export is not None else RowCounts()
        return self.outcome.rows + counts.rows - self.committed.rows


class _Loader:
    """Loads one file at a time, recording its progress after each `commit_rows` rows."""

    def __init__(
        self,
        engine: Engine,
        bus: Bus,
        user_key: int,
        job_id: int,
        progress: ImportProgress | None,
        *,
        batch_size: int,
        commit_rows: int,
        max_future_skew: timedelta,
    ) -> None:
        self.engine = engine
        self.batch_size = batch_size
        self.commit_rows = commit_rows
        self.max_future_skew = max_future_skew
        self.bus = bus
        self.user_key = user_key
        self.job_id = job_id
        self.progress = progress

    def load_or_skip(self, file: ExportFile, earlier: FileOutcome | None) -> FileOutcome | None:
        """A file an earlier run of this job finished is counted, not read again."""
        if earlier is not None and earlier.finished:
            return self.already_done(file, earlier)
        return self.load(file, earlier)

    def load(self, file: ExportFile, earlier: FileOutcome | None = None) -> FileOutcome | None:
        """Import a file, or the rest of it; None when it is not listening history."""
        if self.progress is not None:
            self.progress.started(file)
        run = _FileRun.of(file, earlier)
        try:
            with cyclic_gc_paused(), self.engine.connect() as conn:
                if not self._load(conn, file, run):
                    return None
        except NotAnArray:
            if not (file.named or looks_like_history(file.name)):
                return None
            return replace(run.committed, error=_not_history(file))
        except ImportFileError as exc:
            return replace(run.committed, format=run.outcome.format, error=str(exc))
        return run.committed

    def already_done(self, file: ExportFile, outcome: FileOutcome) -> FileOutcome:
        """A file an interrupted run of this job imported: counted, not read again."""
        if self.progress is not None:
            self.progress.started(file)
            self.progress.advanced(file.size, outcome.rows)
        return outcome

    def _load(self, conn: Connection, file: ExportFile, run: _FileRun) -> bool:
        batch = self.batch_size
        for elements in self._elements(file):
            if run.export is None:
                run.export = self._rows_of(file, elements[0])
                if run.export is None:
                    return False
                run.outcome.format = run.export.format
            rest = run.skip_imported(elements)
            while rest:
                room = self.commit_rows - run.uncommitted_rows
                run.pending += run.export.candidates(rest[:room])
                rest = rest[room:]
                while len(run.pending) >= batch:
                    self._write(conn, run.export, run.pending[:batch], run.outcome)
                    del run.pending[:batch]
                if run.uncommitted_rows >= self.commit_rows:
                    self._commit(conn, run, finished=False)
        if run.export is None and not (file.named or looks_like_history(file.name)):
            return False
        self._commit(conn, run, finished=True)
        return True

    def _commit(self, conn: Connection, run: _FileRun, *, finished: bool) -> None:
        """Publish what is pending, then record the file's progress and commit."""
        if run.export is not None:
            self._write(conn, run.export, run.pending, run.outcome)
            run.pending = []
        line = run.totals(finished=finished)
        import_jobs.record_file(conn, self.job_id, line.record())
        conn.commit()
        run.committed = line

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
        """Publish the candidates not yet in the warehouse; raise unless the bus takes all."""
        known = queries.known_play_ids(conn, [c.event_id for c in candidates])
        fresh = [c for c in candidates if c.event_id not in known]
        events = export.events(fresh)
        ack = acknowledged(self.bus.in_transaction(conn).publish(events), len(events))
        write_quarantine(conn, export.take_rejected(), stage="import")
        result = ack.written or WriteResult(received=ack.accepted)
        outcome.added += result.inserted
        outcome.duplicates += len(candidates) - len(fresh) + result.duplicates
        outcome.merged += result.merged
        if result.quarantined:
            outcome.skipped[REFUSED] += result.quarantined
        _widen_dates(outcome, candidates, self.max_future_skew)


def _widen_dates(
    outcome: FileOutcome, candidates: Sequence[Candidate], max_future_skew: timedelta
) -> None:
    """Stretch the file's first and last play over the candidates dated within reason."""
    now = datetime.now(UTC)
    times = [
        at
        for c in candidates
        if (at := c.listen.played_at) >= SPOTIFY_BEGAN and at - now <= max_future_skew
    ]
    if not times:
        return
    first, last = min(times), max(times)
    if outcome.first_played is None or first < outcome.first_played:
        outcome.first_played = first
    if outcome.last_played is None or last > outcome.last_played:
        outcome.last_played = last


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

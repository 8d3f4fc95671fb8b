"""The `import_job` table: one row per import, so an interrupted one can be finished.

Plays are committed in batches, each together with its file's progress in
`files_done`, so after a crash every batch is either wholly imported and counted,
or not at all. One import per user runs at a time (`claimed`): the lock dies with
its process, so the next run takes over a job a killed import left `running`.
"""

from __future__ import annotations

import fcntl
import os
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Connection, Engine, func, insert, select, update

from weekly_wrapped.errors import TransientError
from weekly_wrapped.warehouse.schema import import_job

Status = Literal["running", "done", "partial", "failed"]
UNFINISHED: tuple[Status, ...] = ("running", "partial")
INTERRUPTED = "interrupted before it finished: import the same files again to finish it"

_LOCK_SPACE = 0x57524150
"""The first key of the PostgreSQL advisory locks of imports ("WRAP"); the second is the user."""


class ImportRunning(TransientError):
    """Another import for the same user holds the user's import lock."""


@dataclass(frozen=True)
class ImportJob:
    job_id: int
    status: str
    files_done: list[dict[str, Any]]


@contextmanager
def claimed(engine: Engine, user_key: int) -> Iterator[None]:
    """Hold the user's import lock for the block, or raise `ImportRunning` at once."""
    if engine.dialect.name == "postgresql":
        lock = _advisory_lock(engine, user_key)
    else:
        lock = _file_lock(engine.url.database, user_key)
    with lock:
        yield


def _refused(user_key: int) -> ImportRunning:
    return ImportRunning(
        f"an import for this user is running (user {user_key}): try again when it has finished"
    )


@contextmanager
def _advisory_lock(engine: Engine, user_key: int) -> Iterator[None]:
    """A session lock on a connection of its own; it ends with the session, or the process."""
    conn = engine.connect()
    try:
        got = conn.execute(select(func.pg_try_advisory_lock(_LOCK_SPACE, user_key))).scalar()
        conn.commit()
        if not got:
            raise _refused(user_key)
        yield
    finally:
        conn.invalidate()  # closing the session is what surely releases its lock
        conn.close()


@contextmanager
def _file_lock(database: str | None, user_key: int) -> Iterator[None]:
    """An flock on a file beside the SQLite database; the system drops it when the process ends."""
    if not database or database == ":memory:":
        yield  # no other process can reach this database
        return
    path = Path(f"{database}-import-{user_key}.lock")
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise _refused(user_key) from None
        yield
    finally:
        os.close(descriptor)


def set_aside_interrupted(conn: Connection, user_key: int) -> None:
    """Mark the user's `running` jobs as interrupted; call it holding the user's lock.

    Holding the lock means no process runs them any more: their process was killed.
    """
    conn.execute(
        update(import_job)
        .where(import_job.c.user_key == user_key, import_job.c.status == "running")
        .values(status="partial", error=INTERRUPTED)
    )


def resume_or_start(conn: Connection, user_key: int, source_path: str) -> tuple[ImportJob, bool]:
    """The unfinished job for these files, or a new one; True when resuming."""
    row = conn.execute(
        select(import_job.c.job_id, import_job.c.status, import_job.c.files_done)
        .where(
            import_job.c.user_key == user_key,
            import_job.c.source_path == source_path,
            import_job.c.status.in_(UNFINISHED),
        )
        .order_by(import_job.c.job_id.desc())
        .limit(1)
    ).one_or_none()
    if row is not None:
        conn.execute(
            update(import_job)
            .where(import_job.c.job_id == row.job_id)
            .values(status="running", error=None, finished_at=None)
        )
        return ImportJob(row.job_id, "running", list(row.files_done or [])), True
    created = conn.execute(
        insert(import_job).values(
            user_key=user_key,
            source_path=source_path,
            status="running",
            files_done=[],
            skipped={},
            started_at=datetime.now(UTC),
        )
    )
    key = created.inserted_primary_key
    assert key is not None  # noqa: S101 - an autoincrement insert always has one
    return ImportJob(int(key[0]), "running", []), False


def record_file(conn: Connection, job_id: int, outcome: Mapping[str, Any]) -> None:
    """Record a file's progress (or its end) in the job, in the caller's transaction.

    The file's earlier line, if any, is replaced, so each file counts once.
    """
    row = conn.execute(select(import_job.c.files_done).where(import_job.c.job_id == job_id)).one()
    files = list(row.files_done or [])
    same = (outcome["name"], outcome["fingerprint"])
    at = next((i for i, f in enumerate(files) if (f["name"], f["fingerprint"]) == same), len(files))
    files[at : at + 1] = [dict(outcome)]
    skipped: Counter[str] = Counter()
    for done in files:
        skipped.update(done.get("skipped", {}))
    conn.execute(
        update(import_job)
        .where(import_job.c.job_id == job_id)
        .values(
            files_done=files,
            rows_read=sum(f["rows"] for f in files),
            plays_added=sum(f["added"] for f in files),
            duplicates=sum(f["duplicates"] + f["merged"] for f in files),
            skipped=dict(skipped),
        )
    )


def finish(
    conn: Connection, job_id: int, status: Status, files_total: int, error: str | None
) -> None:
    """Close the job: done, partial (some files failed) or failed (nothing could start)."""
    conn.execute(
        update(import_job)
        .where(import_job.c.job_id == job_id)
        .values(status=status, files_total=files_total, error=error, finished_at=datetime.now(UTC))
    )

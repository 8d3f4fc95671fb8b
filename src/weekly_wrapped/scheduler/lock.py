"""A lock in the database around each scheduled job, so two servers never run one at once.

On PostgreSQL it is a session advisory lock on a connection of its own; on SQLite,
whose servers all share one machine, an flock on a file beside the database. Both
end with their process. The delivery ledger is the real exactly-once guarantee; the
lock saves a second server from building recaps only to have the ledger refuse them.
"""

from __future__ import annotations

import fcntl
import os
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, func, select

_LOCK_SPACE = 0x57524153
"""The first key of the scheduler's PostgreSQL advisory locks ("WRAS"); the second is the job."""


@contextmanager
def job_lock(engine: Engine, job: str) -> Iterator[bool]:
    """Hold the lock of `job` for the block when it is free; yields whether it is held."""
    if engine.dialect.name == "postgresql":
        with _advisory_lock(engine, zlib.crc32(job.encode()) & 0x7FFFFFFF) as held:
            yield held
    else:
        with _file_lock(engine.url.database, job) as held:
            yield held


@contextmanager
def _advisory_lock(engine: Engine, job_id: int) -> Iterator[bool]:
    conn = engine.connect()
    try:
        held = bool(conn.execute(select(func.pg_try_advisory_lock(_LOCK_SPACE, job_id))).scalar())
        conn.commit()
        yield held
    finally:
        conn.invalidate()  # closing the session is what surely releases its lock
        conn.close()


@contextmanager
def _file_lock(database: str | None, job: str) -> Iterator[bool]:
    if not database or database == ":memory:":
        yield True  # no other process can reach this database
        return
    descriptor = os.open(Path(f"{database}-{job}.lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(descriptor)

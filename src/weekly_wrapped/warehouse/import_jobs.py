"""The `import_job` table: one row per import, so an interrupted one can be finished.

A file's plays and its line in `files_done` are written in one transaction, so
after a crash a file is either wholly imported and listed, or not at all.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import Connection, insert, select, update

from weekly_wrapped.warehouse.schema import import_job

Status = Literal["running", "done", "partial", "failed"]
UNFINISHED: tuple[Status, ...] = ("running", "partial")


@dataclass(frozen=True)
class ImportJob:
    job_id: int
    status: str
    files_done: list[dict[str, Any]]


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
    """Add one imported file to the job, with its counts, in the caller's transaction."""
    row = conn.execute(select(import_job.c.files_done).where(import_job.c.job_id == job_id)).one()
    files = [*(row.files_done or []), dict(outcome)]
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

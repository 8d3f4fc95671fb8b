"""The schedule's work for an outside orchestrator (Airflow, a k8s CronJob): plain values in and out.

`wrapped serve` runs the schedule itself (`jobs.Schedule`). An orchestrator instead
calls these functions from its own tasks: `poll_users` for a polling round,
`due_batches` for the recaps due now split into batches, and `send_batch` for one
batch, so that batches can run as separate, retried tasks. Arguments and results are
JSON-ready (they travel between tasks), and every call reads its settings from
WRAPPED_* itself. The delivery ledger sends each recap once, however often a task is
retried or run twice.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from weekly_wrapped.config import Settings, load_settings
from weekly_wrapped.delivery.reconnect import poll
from weekly_wrapped.delivery.service import send_due
from weekly_wrapped.scheduler.due import parse_send_at
from weekly_wrapped.scheduler.jobs import due_now, utcnow
from weekly_wrapped.scheduler.lock import job_lock
from weekly_wrapped.warehouse.db import open_warehouse

log = logging.getLogger(__name__)

Batch = list[tuple[int, str]]
"""(user id, ISO week start) pairs: one task's share of the week's recaps."""


def due_batches(
    size: int = 50, now: datetime | None = None, settings: Settings | None = None
) -> list[Batch]:
    """The recaps due at `now` (default: the clock), in batches of at most `size` users."""
    if size < 1:
        raise ValueError(f"a batch holds at least one user, not {size}")
    settings = settings or load_settings()
    engine = open_warehouse(settings)
    try:
        with engine.connect() as conn:
            due = due_now(conn, now or utcnow(), parse_send_at(settings.send_at))
    finally:
        engine.dispose()
    pairs = [(d.user_key, d.week_start.isoformat()) for d in due]
    return [pairs[i : i + size] for i in range(0, len(pairs), size)]


def send_batch(batch: Sequence[Sequence[Any]], settings: Settings | None = None) -> dict[str, int]:
    """Build and email the recaps of one batch; returns how many ended sent, skipped, failed…

    A user's failure is kept in the ledger and the batch goes on; a mail setup that
    fails every email raises, so the orchestrator retries the task.
    """
    settings = settings or load_settings()
    pairs = [(int(user), date.fromisoformat(str(week))) for user, week in batch]
    engine = open_warehouse(settings)
    try:
        results = send_due(engine, settings, pairs)
    finally:
        engine.dispose()
    counts: dict[str, int] = dict(Counter(result.result for result in results))
    log.info("batch of %d recaps: %s", len(pairs), counts)
    return counts


def poll_users(settings: Settings | None = None) -> dict[str, int]:
    """One polling round of every connected user; returns users by outcome, and plays.

    Runs under the same database lock as `wrapped serve`'s polls, so the two never
    poll at once; the result is ``{"locked": 1}`` when another poll held it.
    """
    settings = settings or load_settings()
    engine = open_warehouse(settings)
    try:
        with job_lock(engine, "poll") as held:
            if not held:
                return {"locked": 1}
            report = poll(engine, settings)
    finally:
        engine.dispose()
    return {"plays": report.stored.inserted, **Counter(o.status for o in report.outcomes)}


def deadline_missed(context: Any = None, what: str = "a scheduled run") -> None:
    """An orchestrator's deadline alert (Airflow's Deadline Alerts): an error line to alert on."""
    log.error("Weekly Wrapped missed a deadline: %s is still not done", what)

"""The scheduled work itself: one `tick` decides from the clock what is due and does it.

APScheduler calls `tick` every minute; tests call it with a controlled clock. All
the state a tick needs is in the database (the delivery ledger), so a restarted or
second server takes up where the first left off, under `job_lock`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from multiprocessing import get_context

from prometheus_client import Counter, Gauge
from sqlalchemy import Connection, Engine, select

from weekly_wrapped.config import Settings
from weekly_wrapped.delivery import ledger
from weekly_wrapped.delivery.reconnect import poll
from weekly_wrapped.delivery.service import RECAP_CHANNEL, UserResult, send_due
from weekly_wrapped.scheduler.due import (
    DueRecap,
    Recipient,
    due_recaps,
    parse_send_at,
    poll_due,
)
from weekly_wrapped.scheduler.lock import job_lock
from weekly_wrapped.warehouse.queries import as_utc
from weekly_wrapped.warehouse.schema import delivery, dim_user

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
DONE = (ledger.SENT, ledger.SENDING, ledger.FAILED)
"""Ledger states after which the scheduler never sends that week again (deferred is retried)."""

RECAPS = Counter("wrapped_recaps_sent", "Weekly recap emails sent by the scheduler", ["result"])
POLLS = Counter("wrapped_polls", "Users polled by the scheduler, by outcome", ["status"])
POLLED_PLAYS = Counter("wrapped_plays_polled", "Plays fetched from Spotify by scheduled polls")
LAST_TICK = Gauge("wrapped_scheduler_last_tick_seconds", "When the scheduler last ran (Unix time)")


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class TickReport:
    """What one tick did."""

    sent: list[UserResult] = field(default_factory=list)
    polled: bool = False
    skipped_locked: list[str] = field(default_factory=list)
    """Jobs another server was running, so this one left them."""


@dataclass
class Schedule:
    """The weekly schedule of one server: what it last did, and how to do the rest."""

    engine: Engine
    settings: Settings
    clock: Clock = utcnow
    workers: int = 1
    last_poll: datetime | None = None

    def tick(self, now: datetime | None = None) -> TickReport:
        """Do whatever is due at `now` (default: the clock)."""
        now = now or self.clock()
        report = TickReport()
        LAST_TICK.set(now.timestamp())
        every = timedelta(minutes=self.settings.poll_minutes)
        if poll_due(now, self.last_poll, every):
            self._poll(now, report)
        self._send(now, report)
        return report

    def _poll(self, now: datetime, report: TickReport) -> None:
        with job_lock(self.engine, "poll") as held:
            if not held:
                report.skipped_locked.append("poll")
                return
            self.last_poll = now
            for outcome in poll(self.engine, self.settings).outcomes:
                POLLS.labels(outcome.status).inc()
                POLLED_PLAYS.inc(outcome.plays)
            report.polled = True

    def _send(self, now: datetime, report: TickReport) -> None:
        with job_lock(self.engine, "weekly-recap") as held:
            if not held:
                report.skipped_locked.append("weekly-recap")
                return
            with self.engine.connect() as conn:
                due = due_now(conn, now, parse_send_at(self.settings.send_at))
            if due:
                report.sent = send(self.settings, self.engine, due, self.workers)
            for result in report.sent:
                RECAPS.labels(result.result).inc()


def due_now(conn: Connection, now: datetime, send_at: time) -> list[DueRecap]:
    """The recaps due at `now`, read from the users and the delivery ledger."""
    people = recipients(conn)
    oldest = now.date() - timedelta(days=15)
    return due_recaps(now, people, done_weeks(conn, oldest), send_at)


def recipients(conn: Connection) -> list[Recipient]:
    """Users who want the weekly email and have an address for it."""
    rows = conn.execute(
        select(dim_user.c.user_key, dim_user.c.timezone, dim_user.c.created_at).where(
            dim_user.c.weekly_email.is_(True), dim_user.c.email.is_not(None)
        )
    )
    return [Recipient(r.user_key, r.timezone, as_utc(r.created_at)) for r in rows]


def done_weeks(conn: Connection, since: date) -> set[tuple[int, date]]:
    """(user, week) pairs whose recap the ledger holds as sent, in hand, or refused for good."""
    rows = conn.execute(
        select(delivery.c.user_key, delivery.c.week_start).where(
            delivery.c.channel == RECAP_CHANNEL,
            delivery.c.week_start >= since,
            delivery.c.status.in_(DONE),
        )
    )
    return {(r.user_key, r.week_start) for r in rows}


def send(
    settings: Settings, engine: Engine, due: Sequence[DueRecap], workers: int
) -> list[UserResult]:
    """Send the due recaps: here, or over `workers` processes (one per core).

    Each process opens its own engine and warms up (charts, templates) once, then
    takes batches of `BATCH` users from a shared queue, so a slow user holds up one
    batch rather than half the run.
    """
    pairs = [(d.user_key, d.week_start) for d in due]
    if workers <= 1 or len(pairs) < 2:
        return send_due(engine, settings, pairs)
    batches = [pairs[i : i + BATCH] for i in range(0, len(pairs), BATCH)]
    with ProcessPoolExecutor(
        min(workers, len(batches)), mp_context=get_context("spawn"),
        initializer=_start_worker, initargs=(settings,),
    ) as pool:  # fmt: skip
        return [result for batch in pool.map(_send_batch, batches) for result in batch]


BATCH = 10
"""Users per batch a worker process takes at a time."""

_worker: list[tuple[Engine, Settings]] = []
"""This worker process's engine and settings, set once by `_start_worker`."""


def _start_worker(settings: Settings) -> None:
    from weekly_wrapped.delivery.recap_email import warm_up
    from weekly_wrapped.warehouse import db

    engine = db.open_warehouse(settings, check=False)
    _worker.append((engine, settings))
    warm_up()


def _send_batch(pairs: list[tuple[int, date]]) -> list[UserResult]:
    engine, settings = _worker[0]
    return send_due(engine, settings, pairs)

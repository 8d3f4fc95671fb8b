"""The schedule on APScheduler: one tick a minute, in a background thread of `wrapped serve`.

A tick missed while the server was busy or down is run once when it can be
(coalesced), never several times over; what the tick sends is decided by the
ledger, so downtime over a Monday morning sends that week once, on start.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from weekly_wrapped.scheduler.jobs import Schedule

log = logging.getLogger(__name__)

TICK_SECONDS = 60


def start(schedule: Schedule) -> BackgroundScheduler:
    """Run `schedule.tick` now and then every minute, in a daemon thread."""
    scheduler = BackgroundScheduler(timezone=UTC, daemon=True)
    scheduler.add_job(
        _tick,
        IntervalTrigger(seconds=TICK_SECONDS, timezone=UTC),
        args=[schedule],
        id="wrapped-tick",
        next_run_time=datetime.now(UTC),
        coalesce=True,
        max_instances=1,
        misfire_grace_time=None,
    )
    scheduler.start()
    return scheduler


def _tick(schedule: Schedule) -> None:
    try:
        report = schedule.tick()
    except Exception:  # one bad tick (a database down) must not stop the schedule
        log.exception("the scheduled tick failed; the next one tries again")
        return
    if report.sent:
        log.info("sent %d weekly recaps", sum(r.result == "sent" for r in report.sent))

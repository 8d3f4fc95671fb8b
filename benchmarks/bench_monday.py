"""The scheduler's Monday run for 1,000 users to the outbox; goal ≤ 45 s, using both cores.

    python benchmarks/bench_monday.py [--users 1000] [--weeks 76] [--workers 2] [--sample 20]

Setup (not timed): the PostgreSQL database `wrapped_bench_listeners` (on WRAPPED_BENCH_PG_URL's
server or scripts/pg-start's) with `--users` opted-in users, each with `--weeks` weeks of
synthetic listening (76 weeks: about 11,000 plays a user, 11M for 1,000), who joined
before last Monday; loaded once and reused (see `listeners.py`), with the delivery ledger
and the stored recaps cleared.

Timed:

- **Monday run**: one scheduler tick at the Monday's 08:30 (`Schedule.tick`), which finds
  every user's recap due and sends it: stats, the offline story and the email with its
  charts, to the outbox, over `--workers` processes.
- **one user × N** (baseline): for `--sample` users, one user's stats, story and email
  each timed on their own, one after another in this process; their mean sum × N.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, func, select, update

from common import load_average, postgres_url
from listeners import TZ, listeners
from weekly_wrapped.config import Settings
from weekly_wrapped.delivery.mailer import deliver
from weekly_wrapped.delivery.recap_email import compose_recap
from weekly_wrapped.delivery.transports import OutboxTransport
from weekly_wrapped.insights.history import load_history
from weekly_wrapped.insights.stats import weekly_stats
from weekly_wrapped.insights.writers import OfflineWriter
from weekly_wrapped.keys import secret_key
from weekly_wrapped.scheduler.jobs import Schedule
from weekly_wrapped.warehouse.schema import delivery, dim_user
from weekly_wrapped.weeks import last_complete_week


def _cpu_s() -> float:
    """CPU seconds of this process and its finished children (the worker processes)."""
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def opt_in_only(engine: Engine, users: list[int], count: int) -> list[int]:
    """Opt out every user after the first `count`, for a smaller run on the same database."""
    with engine.begin() as conn:
        conn.execute(update(dim_user).where(dim_user.c.user_key.not_in(users[:count]))
                     .values(weekly_email=False))  # fmt: skip
    return users[:count]


def one_user(engine: Engine, settings: Settings, user: int, week: object) -> float:
    """Seconds for one user's stats, story and email, each step on its own."""
    outbox = OutboxTransport(settings.data_dir / "sample-outbox")
    began = time.perf_counter()
    with engine.connect() as conn:
        stats = weekly_stats(conn, user, week)  # type: ignore[arg-type]
        history = load_history(conn, user, week, [a.name for a in stats.top_artists])  # type: ignore[arg-type]
    story = OfflineWriter().write(stats, history)
    message = compose_recap(settings, secret_key(settings), user_key=user, name="Listener",
                            email="l@example.com", stats=stats, story=story, writer="offline")  # fmt: skip
    deliver(engine, settings, user, week, "bench", message, transport=outbox)  # type: ignore[arg-type]
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--weeks", type=int, default=76)
    parser.add_argument("--templates", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--sample", type=int, default=20)
    parser.add_argument("--recipients", type=int, help="email only the first N (default: all)")
    args = parser.parse_args()
    admin = postgres_url()
    if admin is None:
        raise SystemExit("set WRAPPED_BENCH_PG_URL or run scripts/pg-start: this needs PostgreSQL")
    with tempfile.TemporaryDirectory() as folder:
        loaded = listeners(admin, "wrapped_bench_listeners", Path(folder), users=args.users,
                           weeks=args.weeks, templates=args.templates)  # fmt: skip
        engine, settings, users = loaded.engine, loaded.settings, loaded.users
        print(f"setup: {engine.dialect.name}, {len(users):,} users, {loaded.plays:,} plays, "
              f"{'reused' if loaded.reused else 'loaded'} in {loaded.load_s:.0f} s")  # fmt: skip
        if args.recipients is not None:
            users = opt_in_only(engine, users, args.recipients)
        week = last_complete_week(TZ)
        monday = week + timedelta(days=7)
        at = datetime(monday.year, monday.month, monday.day, 8, 30, tzinfo=ZoneInfo(TZ))

        sample = [one_user(engine, settings, user, week) for user in users[: args.sample]]
        baseline = statistics.fmean(sample) * len(users)

        schedule = Schedule(engine, settings, workers=args.workers)
        schedule.last_poll = at  # the poll is not what this measures
        began, cpu_before = time.perf_counter(), _cpu_s()
        report = schedule.tick(at.astimezone(UTC))
        spent, cpu = time.perf_counter() - began, _cpu_s() - cpu_before
        with engine.connect() as conn:
            sent = conn.execute(
                select(func.count()).where(
                    delivery.c.channel == "recap", delivery.c.status == "sent"
                )
            ).scalar()
        failed = [r for r in report.sent if r.result != "sent"]
        print(
            f"\none user (stats + story + email), mean of {len(sample)}: "
            f"{statistics.fmean(sample) * 1000:.0f} ms; × {len(users):,} = {baseline:.1f} s"
        )
        print(
            f"Monday run, {args.workers} workers: {spent:.1f} s for {sent:,} recaps "
            f"({len(failed)} not sent); {spent / baseline:.2f}× the one-user baseline; "
            f"CPU of this process and its workers {cpu:.1f} s ({cpu / spent:.2f} cores busy)"
        )
        verdict = "meets" if spent <= 45 and sent == len(users) else "MISSES"
        print(f"goal ≤ 45 s for all users: {verdict} ({spent:.1f} s, {len(users):,} users); "
              f"load average {load_average()}")  # fmt: skip


if __name__ == "__main__":
    main()

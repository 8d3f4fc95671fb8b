"""The scheduler's Monday run for 1,000 users to the outbox; goal ≤ 45 s, using both cores.

    python benchmarks/bench_monday.py [--users 1000] [--weeks 5] [--workers 2] [--sample 20]

Setup (not timed): a fresh PostgreSQL database (WRAPPED_BENCH_PG_URL or scripts/pg-start;
SQLite when there is none) with `--users` opted-in users, each with `--weeks` weeks of
synthetic listening, who joined before last Monday.

Timed:

- **Monday run**: one scheduler tick at the Monday's 08:30 (`Schedule.tick`), which finds
  every user's recap due and sends it: stats, the offline story and the email with its
  charts, to the outbox, over `--workers` processes.
- **one user × N** (baseline): for `--sample` users, one user's stats, story and email
  each timed on their own, one after another in this process; their mean sum × N.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from cryptography.fernet import Fernet
from sqlalchemy import Engine, func, select, update

from common import fresh_postgres_database, postgres_url
from weekly_wrapped import pipeline
from weekly_wrapped.config import Settings, load_settings
from weekly_wrapped.delivery.mailer import deliver
from weekly_wrapped.delivery.recap_email import compose_recap
from weekly_wrapped.delivery.transports import OutboxTransport
from weekly_wrapped.insights.history import load_history
from weekly_wrapped.insights.stats import weekly_stats
from weekly_wrapped.insights.writers import OfflineWriter
from weekly_wrapped.keys import secret_key
from weekly_wrapped.scheduler.jobs import Schedule
from weekly_wrapped.warehouse import db
from weekly_wrapped.warehouse.schema import delivery, dim_user, fact_play
from weekly_wrapped.warehouse.users import add_user
from weekly_wrapped.weeks import last_complete_week

TZ = "Europe/Berlin"


def prepare(engine: Engine, settings: Settings, users: int, weeks: int) -> list[int]:
    keys = []
    for n in range(users):
        with engine.begin() as conn:
            user = add_user(conn, name=f"Listener {n}", email=f"l{n}@example.com", timezone=TZ)
        pipeline.generate(engine, settings, user, weeks=weeks, seed=n)
        keys.append(user)
    with engine.begin() as conn:
        conn.execute(update(dim_user).values(created_at=datetime(2020, 1, 1, tzinfo=UTC)))
    return keys


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
    parser.add_argument("--weeks", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--sample", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        admin = postgres_url()
        url = fresh_postgres_database(admin, "wrapped_bench_monday") if admin else None
        settings = load_settings(data_dir=Path(folder), database_url=url,
                                 secret_key=Fernet.generate_key().decode())  # fmt: skip
        engine = db.connect(settings.db_url)
        db.upgrade(engine)
        began = time.perf_counter()
        users = prepare(engine, settings, args.users, args.weeks)
        with engine.connect() as conn:
            plays = conn.execute(select(func.count()).select_from(fact_play)).scalar()
        print(f"setup: {engine.dialect.name}, {len(users):,} users, {plays:,} plays, "
              f"in {time.perf_counter() - began:.0f} s")  # fmt: skip
        week = last_complete_week(TZ)
        monday = week + timedelta(days=7)
        at = datetime(monday.year, monday.month, monday.day, 8, 30, tzinfo=ZoneInfo(TZ))

        sample = [one_user(engine, settings, user, week) for user in users[: args.sample]]
        baseline = statistics.fmean(sample) * len(users)

        schedule = Schedule(engine, settings, workers=args.workers)
        schedule.last_poll = at  # the poll is not what this measures
        began = time.perf_counter()
        report = schedule.tick(at.astimezone(UTC))
        spent = time.perf_counter() - began
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
            f"({len(failed)} not sent); {spent / baseline:.2f}× the one-user baseline"
        )
        verdict = "meets" if spent <= 45 and sent == len(users) else "MISSES"
        print(f"goal ≤ 45 s for all users: {verdict} ({spent:.1f} s, {len(users):,} users)")


if __name__ == "__main__":
    main()

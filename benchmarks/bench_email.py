"""Recap emails for 1,000 users, rendered and delivered to the outbox; goal ≤ 100 ms each.

    python benchmarks/bench_email.py [--users 1000] [--listeners 8]

Setup (not timed): a SQLite warehouse in a temporary folder, `--listeners` users with
five weeks of synthetic listening each and their recaps built, then `--users` users
whose stored recaps copy those (stats and story), so every email has real numbers.

Timed, each through the real service path (`send_recap`: load the recap, compose,
exactly-once delivery to the outbox with its ledger commits), one user after another:

- **full**: the recap email as users get it: text + HTML + three PNG charts.
- **no charts** (baseline): the same email without its charts.
- **text only** (baseline): a plain-text message from the same template, same delivery.

The chart share is the time spent inside `render_charts` over the full run's time.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from weekly_wrapped import pipeline
from weekly_wrapped.config import Settings, load_settings
from weekly_wrapped.delivery import recap_email, service
from weekly_wrapped.delivery.mailer import deliver
from weekly_wrapped.delivery.transports import OutboxTransport
from weekly_wrapped.delivery.view import recap_view, subject
from weekly_wrapped.insights.recap import Recap, build_recap, save_recap
from weekly_wrapped.insights.writers import OfflineWriter
from weekly_wrapped.keys import secret_key
from weekly_wrapped.warehouse import db
from weekly_wrapped.warehouse.users import add_user, get_user
from weekly_wrapped.weeks import last_complete_week

TZ = "Europe/Berlin"


@dataclass
class Run:
    name: str
    per_email_ms: list[float]
    chart_s: float = 0.0

    @property
    def total_s(self) -> float:
        return sum(self.per_email_ms) / 1000

    @property
    def mean_ms(self) -> float:
        return statistics.fmean(self.per_email_ms)

    def percentile(self, q: int) -> float:
        return statistics.quantiles(self.per_email_ms, n=100)[q - 1]


def prepare(engine: Engine, settings: Settings, users: int, listeners: int) -> list[int]:
    """Users with stored recaps of last week, copied round robin from real listeners."""
    week = last_complete_week(TZ)
    templates: list[Recap] = []
    for seed in range(listeners):
        with engine.begin() as conn:
            user = add_user(
                conn, name=f"Listener {seed}", email=f"l{seed}@example.com", timezone=TZ
            )
        pipeline.generate(engine, settings, user, weeks=5, seed=seed)
        templates.append(build_recap(engine, user, week, OfflineWriter()))
    keys: list[int] = []
    with engine.begin() as conn:
        for n in range(users):
            user = add_user(conn, name=f"Reader {n} <&>", email=f"r{n}@example.com", timezone=TZ)
            model = templates[n % listeners]
            stats = model.stats.model_copy(update={"user_id": user})
            save_recap(conn, Recap(get_user(conn, user), week, stats, model.story,
                                   model.writer, model.model, datetime.now(UTC)))  # fmt: skip
            keys.append(user)
    return keys


@contextmanager
def timed_charts(run: Run) -> Iterator[None]:
    """Count the time spent rendering charts during the run."""
    original = recap_email.render_charts

    def render_charts(stats: Any) -> Any:
        start = time.perf_counter()
        try:
            return original(stats)
        finally:
            run.chart_s += time.perf_counter() - start

    recap_email.render_charts = render_charts  # type: ignore[assignment]
    try:
        yield
    finally:
        recap_email.render_charts = original  # type: ignore[assignment]


def each_user(users: list[int], send: Callable[[int], object]) -> list[float]:
    durations = []
    for user in users:
        start = time.perf_counter()
        send(user)
        durations.append((time.perf_counter() - start) * 1000)
    return durations


def run_full(engine: Engine, settings: Settings, users: list[int], key: bytes) -> Run:
    run = Run("full: text + HTML + 3 charts", [])
    outbox = OutboxTransport(settings.data_dir / "outbox-full")
    week = last_complete_week(TZ)
    with timed_charts(run):
        run.per_email_ms = each_user(users, lambda u: service.send_recap(
            engine, settings, u, week, transport=outbox, key=key))  # fmt: skip
    return run


def run_no_charts(engine: Engine, settings: Settings, users: list[int], key: bytes) -> Run:
    run = Run("baseline: text + HTML, no charts", [])
    outbox = OutboxTransport(settings.data_dir / "outbox-nocharts")
    week = last_complete_week(TZ)
    original = recap_email.render_charts
    recap_email.render_charts = lambda stats: []  # type: ignore[assignment]
    try:
        run.per_email_ms = each_user(users, lambda u: service.send_recap(
            engine, settings, u, week, transport=outbox, key=key))  # fmt: skip
    finally:
        recap_email.render_charts = original  # type: ignore[assignment]
    # send_recap used the "recap" channel, already sent by the full run: check it really sent.
    assert len(list((settings.data_dir / "outbox-nocharts").glob("*/*.eml"))) == len(users)
    return run


def run_text_only(engine: Engine, settings: Settings, users: list[int], key: bytes) -> Run:
    run = Run("baseline: plain text only", [])
    outbox = OutboxTransport(settings.data_dir / "outbox-text")
    week = last_complete_week(TZ)

    def send(user: int) -> None:
        with engine.connect() as conn:
            person = get_user(conn, user)
        recap = service.current_recap(engine, settings, person, week)
        message = EmailMessage()
        message["Subject"], message["From"] = subject(week), settings.smtp_from
        message["To"] = person.email or ""
        view = recap_view(person.display_name, recap.stats, recap.story)
        text = recap_email.TEMPLATES.get_template("recap.txt")
        message.set_content(
            text.render(view=view, unsubscribe=recap_email.Unsubscribe("https://example.org/u"))
        )
        deliver(engine, settings, user, week, "text", message, transport=outbox)

    run.per_email_ms = each_user(users, send)
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--listeners", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        settings = load_settings(data_dir=Path(folder))
        engine = db.connect(settings.db_url)
        db.upgrade(engine)
        started = time.perf_counter()
        users = prepare(engine, settings, args.users, args.listeners)
        print(f"setup: {len(users)} users with recaps in {time.perf_counter() - started:.1f} s\n")
        key = secret_key(settings)
        full = run_full(engine, settings, users, key)
        with engine.begin() as conn:  # let the no-charts run send on the same channel
            conn.exec_driver_sql("DELETE FROM delivery")
        runs = [full, run_no_charts(engine, settings, users, key),
                run_text_only(engine, settings, users, key)]  # fmt: skip
        report(runs, full)


def report(runs: list[Run], full: Run) -> None:
    print(f"{'run':<34} {'emails':>6} {'total s':>8} {'mean ms':>8} {'p50 ms':>7} "
          f"{'p95 ms':>7} {'vs text':>8}")  # fmt: skip
    text = runs[-1]
    for run in runs:
        print(f"{run.name:<34} {len(run.per_email_ms):>6} {run.total_s:>8.2f} "
              f"{run.mean_ms:>8.1f} {run.percentile(50):>7.1f} {run.percentile(95):>7.1f} "
              f"{run.mean_ms / text.mean_ms:>7.1f}x")  # fmt: skip
    share = full.chart_s / full.total_s
    print(f"\ncharts: {full.chart_s * 1000 / len(full.per_email_ms):.1f} ms per email, "
          f"{share:.0%} of the full email's time")  # fmt: skip
    verdict = "meets" if full.mean_ms <= 100 else "MISSES"
    print(f"goal ≤ 100 ms per recap email, charts included: {verdict} ({full.mean_ms:.1f} ms)")


if __name__ == "__main__":
    main()

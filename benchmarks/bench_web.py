"""The dashboard's week JSON under 50 concurrent clients on loopback; goal p95 ≤ 150 ms, no errors.

    python benchmarks/bench_web.py [--users 1000] [--weeks 76] [--clients 50] [--requests 20]
                                   [--threads 16]

Setup (not timed): the PostgreSQL database `wrapped_bench_listeners` (see `listeners.py`;
loaded once, then reused) with `--users` users and `--weeks` weeks of synthetic listening
each (76 weeks: about 11M plays for 1,000 users), and last week's recap built (as the
Monday run keeps it) for the users the clients play.

Timed: `wrapped serve --no-scheduler` in its own process (waitress, `--threads`), and
`--clients` clients on their own threads, each logged in as a different user with a
keep-alive connection, each sending `--requests` requests one after another:

- **week JSON, stored**: `/api/v1/weeks/<last week>/recap`, the recap the Monday run kept.
- **week JSON, live**: `/api/v1/weeks/<this week>/recap`, computed from the plays on request.
- **/healthz** (baseline): the same load on an endpoint that does nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import requests
from sqlalchemy import Engine

from common import load_average, postgres_url
from listeners import TZ, listeners
from weekly_wrapped.config import Settings
from weekly_wrapped.insights.recap import build_recap
from weekly_wrapped.insights.writers import OfflineWriter
from weekly_wrapped.web import create_app
from weekly_wrapped.weeks import last_complete_week, week_label


@dataclass
class Load:
    name: str
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    wall_s: float = 0.0

    def percentile(self, q: int) -> float:
        return statistics.quantiles(self.latencies_ms, n=100)[q - 1]


def cookies_for(settings: Settings, engine: Engine, users: list[int]) -> list[str]:
    """A session cookie per user, signed as the server signs them (same secret key)."""
    app = create_app(settings, engine=engine)
    values = []
    for user in users:
        client = app.test_client()
        with client.session_transaction() as session:
            session["user_key"] = user
        cookie = client.get_cookie("wrapped_session")
        assert cookie is not None
        values.append(cookie.value)
    return values


def start_server(settings: Settings, port: int, threads: int) -> subprocess.Popen[bytes]:
    env = os.environ | {
        "WRAPPED_DATA_DIR": str(settings.data_dir),
        "WRAPPED_DATABASE_URL": settings.db_url,
        "WRAPPED_SECRET_KEY": settings.secret_key.get_secret_value(),  # type: ignore[union-attr]
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "weekly_wrapped.cli", "serve", "--port", str(port),
         "--no-scheduler", "--threads", str(threads)], env=env,
    )  # fmt: skip
    for _ in range(200):
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).ok:
                return server
        except requests.ConnectionError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit("the server did not start")


def load(name: str, url: str, cookies: list[str], per_client: int) -> Load:
    result = Load(name)
    lock = threading.Lock()
    start = threading.Barrier(len(cookies))

    def client(cookie: str) -> None:
        session = requests.Session()
        session.cookies.set("wrapped_session", cookie)
        start.wait()
        for _ in range(per_client):
            began = time.perf_counter()
            try:
                ok = session.get(url, timeout=30).status_code == 200
            except requests.RequestException:
                ok = False
            spent = (time.perf_counter() - began) * 1000
            with lock:
                result.latencies_ms.append(spent)
                result.errors += not ok

    threads = [threading.Thread(target=client, args=(c,)) for c in cookies]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result.wall_s = time.perf_counter() - began
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--weeks", type=int, default=76)
    parser.add_argument("--templates", type=int, default=10)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--threads", type=int, default=16)
    args = parser.parse_args()
    admin = postgres_url()
    if admin is None:
        raise SystemExit("set WRAPPED_BENCH_PG_URL or run scripts/pg-start: this needs PostgreSQL")
    with tempfile.TemporaryDirectory() as folder:
        loaded = listeners(admin, "wrapped_bench_listeners", Path(folder), users=args.users,
                           weeks=args.weeks, templates=args.templates)  # fmt: skip
        engine, settings = loaded.engine, loaded.settings
        clients = loaded.users[: args.clients]
        last = last_complete_week(TZ)
        for user in clients:
            build_recap(engine, user, last, OfflineWriter())
        print(f"setup: {engine.dialect.name}, {len(loaded.users):,} users, {loaded.plays:,} plays, "
              f"{'reused' if loaded.reused else 'loaded'} in {loaded.load_s:.0f} s; "
              f"load average {load_average()}")  # fmt: skip
        cookies = cookies_for(settings, engine, clients)
        port = 18000 + os.getpid() % 1000
        server = start_server(settings, port, args.threads)
        base = f"http://127.0.0.1:{port}"
        this_week = week_label(datetime.now(UTC).date())
        try:
            load("warm-up", f"{base}/healthz", cookies, 2)
            runs = [
                load("week JSON, stored", f"{base}/api/v1/weeks/{week_label(last)}/recap",
                     cookies, args.requests),
                load("week JSON, live", f"{base}/api/v1/weeks/{this_week}/recap", cookies,
                     args.requests),
                load("/healthz", f"{base}/healthz", cookies, args.requests),
            ]  # fmt: skip
        finally:
            server.terminate()
            server.wait(10)
        report(runs, args.clients, args.threads)


def report(runs: list[Load], clients: int, threads: int) -> None:
    base = runs[-1]
    print(f"\n{clients} concurrent clients, {threads} server threads; load average "
          f"{load_average()}\n")  # fmt: skip
    print(f"{'load':<20} {'requests':>8} {'errors':>6} {'req/s':>7} {'p50 ms':>7} "
          f"{'p95 ms':>7} {'p95 vs healthz':>14}")  # fmt: skip
    for run in runs:
        rate = len(run.latencies_ms) / run.wall_s
        print(f"{run.name:<20} {len(run.latencies_ms):>8} {run.errors:>6} {rate:>7.0f} "
              f"{run.percentile(50):>7.1f} {run.percentile(95):>7.1f} "
              f"{run.percentile(95) / base.percentile(95):>13.1f}x")  # fmt: skip
    for run in runs[:-1]:
        verdict = "meets" if run.percentile(95) <= 150 and run.errors == 0 else "MISSES"
        print(f"goal p95 ≤ 150 ms, no errors, {run.name}: {verdict} ({run.percentile(95):.0f} ms)")


if __name__ == "__main__":
    main()

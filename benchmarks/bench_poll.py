"""Polling rounds against the fake Spotify: 5 users and 500 users, one at a time and 8 in flight.

    python benchmarks/bench_poll.py [--users 500] [--rate-limit 90/1] [--latency 0.1]

The fake runs in its own process, answers each Web API call after `--latency`
seconds (Spotify is an internet away) and enforces a rate limit over a rolling
window. Each scenario gets a fresh warehouse and N users connected with tokens the
fake issued, then runs:

- a first round: every user has 50 plays waiting (a full recently-played page);
- a steady round: every user has played 2 more since.

It reports requests per user per round, the wall time of a round and the fake's
429s. The baseline is the steady round polled one user at a time
(WRAPPED_SPOTIFY_MAX_IN_FLIGHT=1), measured in the same run. PostgreSQL comes from
WRAPPED_BENCH_PG_URL or `.pg/url` when running.
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests
from cryptography.fernet import Fernet
from sqlalchemy import Engine, update

from common import fresh_postgres_database, postgres_url
from weekly_wrapped.config import Settings, load_settings
from weekly_wrapped.sources.spotify.client import SpotifyClient
from weekly_wrapped.sources.spotify.poller import Poller
from weekly_wrapped.sources.spotify.tokens import Token, cipher, save_token
from weekly_wrapped.warehouse import db
from weekly_wrapped.warehouse.schema import dim_user
from weekly_wrapped.warehouse.users import add_user

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Round:
    backend: str
    users: int
    in_flight: int
    kind: str
    requests: int
    seconds: float
    plays: int
    limited: int


@contextmanager
def fake_spotify(users: int, rate_limit: str, latency: float) -> Iterator[str]:
    """The fake in a child process, with `users` listeners of 50 plays each."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.spotify", "--port", str(port), "--users", str(users),
         "--plays", "50", "--rate-limit", rate_limit, "--latency", str(latency)],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                requests.get(base + "/_fake/stats", timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.05)
        yield base
    finally:
        child.terminate()
        child.wait(10)


def order(base: str, path: str, **body: Any) -> Any:
    response = requests.post(base + path, json=body, timeout=60)
    response.raise_for_status()
    return response.json()


def settings_for(base: str, url: str, folder: Path, *, in_flight: int) -> Settings:
    return load_settings(
        data_dir=folder,
        database_url=url,
        secret_key=Fernet.generate_key().decode(),
        spotify_client_id="fake-client-id",
        spotify_api_url=base + "/v1",
        spotify_accounts_url=base,
        spotify_max_in_flight=in_flight,
    )


def connect_users(engine: Engine, settings: Settings, base: str, count: int) -> None:
    """Users 1…count, connected with fresh tokens from the fake."""
    grants = order(base, "/_fake/issue", user="*")
    now = datetime.now(UTC)
    fernet = cipher(settings)
    with engine.begin() as conn:
        for n in range(1, count + 1):
            grant = grants[f"listener-{n}"]
            user = add_user(conn, name=f"Listener {n}", spotify_user_id=f"listener-{n}")
            token = Token(
                grant["access_token"],
                grant["refresh_token"],
                now + timedelta(hours=1),
                grant["scope"],
            )
            save_token(conn, fernet, user, token, now)
        conn.execute(update(dim_user).values(auth_status="ok"))


def timed_round(poller: Poller, client: SpotifyClient, base: str) -> tuple[int, float, int, int]:
    sent, limited = client.requests_sent, requests.get(base + "/_fake/stats", timeout=5).json()
    started = time.perf_counter()
    outcomes = poller.poll().outcomes
    seconds = time.perf_counter() - started
    failed = [o for o in outcomes if o.status != "ok"]
    assert not failed, failed[:3]
    after = requests.get(base + "/_fake/stats", timeout=5).json()
    plays = sum(o.plays for o in outcomes)
    return (
        client.requests_sent - sent,
        seconds,
        plays,
        after["rate_limited"] - limited["rate_limited"],
    )


def scenario(
    backend: str, make_url: Callable[[], str], base: str, users: int, in_flight: int, folder: Path
) -> list[Round]:
    """A first round and a steady round; the one-at-a-time baseline times the steady one only."""
    settings = settings_for(base, make_url(), folder, in_flight=8)
    engine = db.connect(settings.db_url)
    db.upgrade(engine)
    connect_users(engine, settings, base, users)
    client = SpotifyClient(settings)
    rounds = []
    first = timed_round(Poller(engine, settings, client=client), client, base)
    if in_flight != 1:
        rounds.append(Round(backend, users, in_flight, "first", *first))
    order(base, "/_fake/listen", user="*", count=2, spacing_s=0.05)
    steady = settings.model_copy(update={"spotify_max_in_flight": in_flight})
    second = timed_round(Poller(engine, steady, client=client), client, base)
    rounds.append(Round(backend, users, in_flight, "steady", *second))
    client.close()
    engine.dispose()
    return rounds


def sqlite_urls(folder: Path) -> Callable[[], str]:
    counter = iter(range(1000))
    return lambda: f"sqlite:///{folder / f'poll-{next(counter)}.db'}"


def postgres_urls(admin_url: str) -> Callable[[], str]:
    return lambda: fresh_postgres_database(admin_url, "wrapped_bench_poll")


def report(results: list[Round], rate_limit: str, latency: float) -> None:
    print(f"\nfake: rate limit {rate_limit} (requests/seconds, rolling), {latency:g} s per answer")
    print("| backend | users | in flight | round | requests/user | plays | seconds | 429s | × one at a time |")  # fmt: skip
    print("|---|---:|---:|---|---:|---:|---:|---:|---:|")
    baseline = {(r.backend, r.users, r.kind): r.seconds for r in results if r.in_flight == 1}
    for r in results:
        one_at_a_time = baseline.get((r.backend, r.users, r.kind))
        ratio = f"{one_at_a_time / r.seconds:.1f}×" if one_at_a_time else "–"
        print(
            f"| {r.backend} | {r.users} | {r.in_flight} | {r.kind} | {r.requests / r.users:.2f} | "
            f"{r.plays:,} | {r.seconds:.2f} | {r.limited} | {ratio} |"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=500)
    parser.add_argument("--rate-limit", default="90/1")
    parser.add_argument("--latency", type=float, default=0.1)
    args = parser.parse_args()
    results: list[Round] = []
    with (
        tempfile.TemporaryDirectory() as tmp,
        fake_spotify(args.users, args.rate_limit, args.latency) as base,
    ):
        folder = Path(tmp)
        backends = [("SQLite", sqlite_urls(folder))]
        url = postgres_url()
        if url:
            backends.append(("PostgreSQL", postgres_urls(url)))
        else:
            print("no PostgreSQL (scripts/pg-start): SQLite only", file=sys.stderr)
        for name, make_url in backends:
            for users, in_flight in ((5, 8), (args.users, 1), (args.users, 8)):
                results += scenario(name, make_url, base, users, in_flight, folder)
                print(f"{name}: {users} users, {in_flight} in flight: done", file=sys.stderr)
    report(results, args.rate_limit, args.latency)
    return 0


if __name__ == "__main__":
    sys.exit(main())

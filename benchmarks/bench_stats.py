"""Weekly stats at scale: one user-week, and one week for every user, on PostgreSQL and SQLite.

    python benchmarks/bench_stats.py [--users 1000] [--weeks 104] [--sqlite-users 1000]
                                     [--sample 200] [--reload]

The warehouse holds `--weeks` of synthetic listening for `--users` users (about
14,000 plays each for two years), loaded once through the real transform and
bulk writer, in two worker processes, with the fact table's secondary indexes
built after the load. The loaded databases are kept (PostgreSQL database
`wrapped_bench_stats`, SQLite file `data/bench/stats.sqlite`) and reused by
later runs with the same arguments; `--reload` starts again. SQLite gets the
same rows, copied from PostgreSQL, for its first `--sqlite-users` users.

Timed, per backend: `weekly_stats` for a sample of users (median and 95th
percentile), `weekly_stats` for every user in turn, and `range_stats` over a
year. The floor is `SELECT count(*)` over the same rows, timed in the same run:
the least any query that reads a user's week can cost. PostgreSQL comes from
WRAPPED_BENCH_PG_URL or `.pg/url` (`make bench` starts one).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Index,
    bindparam,
    create_engine,
    func,
    inspect,
    select,
    text,
)
from sqlalchemy.pool import NullPool

from common import postgres_url
from weekly_wrapped.insights.stats import range_stats, weekly_stats
from weekly_wrapped.processing.transform import Context, transform
from weekly_wrapped.sources.synthetic import build_catalog, generate_plays
from weekly_wrapped.warehouse import db, schema, users
from weekly_wrapped.warehouse.writer import write_rows
from weekly_wrapped.weeks import week_date_keys

ROOT = Path(__file__).resolve().parents[1]
DATABASE = "wrapped_bench_stats"
SQLITE_FILE = ROOT / "data" / "bench" / "stats.sqlite"
SEED = 11
END = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)  # W47 is over in every timezone below
WEEK = date(2026, 11, 16)
YEAR = (date(2025, 11, 23), date(2026, 11, 23))
TIMEZONES = (
    "Europe/Berlin", "America/New_York", "Asia/Tokyo", "UTC", "America/Los_Angeles",
    "Pacific/Auckland", "Asia/Kolkata", "America/Sao_Paulo", "Pacific/Honolulu",
    "Pacific/Tongatapu",
)  # fmt: skip
USERS_PER_BATCH = 4
LOADED = "bench_stats_loaded"
"""A table in the benchmark databases recording what was loaded, so a rerun can reuse it."""


# --- loading --------------------------------------------------------------------------


def load_tag(users_count: int, weeks: int) -> str:
    return f"users={users_count} weeks={weeks} seed={SEED} end={END.isoformat()}"


def stored_tag(engine: Engine) -> str | None:
    """The load tag of a complete earlier load, brought to the current schema; else None."""
    try:
        with engine.connect() as conn:
            tag = conn.execute(text(f"SELECT tag FROM {LOADED}")).scalar()
        db.upgrade(engine)
        return str(tag) if tag is not None else None
    except Exception:  # a missing or half-built database is simply loaded again
        return None


def mark_loaded(engine: Engine, tag: str) -> None:
    with engine.begin() as conn:
        conn.execute(text(f"CREATE TABLE {LOADED} (tag TEXT NOT NULL)"))
        conn.execute(text(f"INSERT INTO {LOADED} (tag) VALUES (:tag)"), {"tag": tag})


def secondary_indexes() -> list[Index]:
    return sorted(schema.fact_play.indexes, key=lambda index: str(index.name))


def sync_indexes(engine: Engine) -> None:
    """Give a kept database exactly the fact-table indexes the code declares now."""
    declared = {str(index.name): index for index in secondary_indexes()}
    present = {str(ix["name"]) for ix in inspect(engine).get_indexes(schema.fact_play.name)}
    with engine.begin() as conn:
        for name in sorted(present - set(declared)):
            conn.execute(text(f"DROP INDEX {name}"))
            print(f"  dropped index {name}", file=sys.stderr)
    missing = [index for name, index in declared.items() if name not in present]
    if missing:
        build_indexes(engine, *missing)


@lru_cache(maxsize=1)
def _worker_engine(url: str) -> Engine:
    return db.connect(url, poolclass=NullPool)


def load_batch(job: tuple[str, list[tuple[int, str]], int]) -> int:
    """Generate, transform and bulk-write a few users' listening (runs in a worker process)."""
    url, people, weeks = job
    catalog = build_catalog(SEED)
    zones = dict(people)
    events = [
        event
        for user_key, zone in people
        for event in generate_plays(
            user_key, weeks=weeks, seed=SEED, end=END, catalog=catalog, timezone=zone
        )
    ]
    rows = transform(events, Context(timezones=zones, now=END))
    with _worker_engine(url).begin() as conn:
        result = write_rows(conn, rows)
    return result.inserted


def add_listeners(engine: Engine, count: int) -> list[tuple[int, str]]:
    with engine.begin() as conn:
        return [
            (
                users.add_user(conn, name=f"Listener {n}", timezone=TIMEZONES[n % len(TIMEZONES)]),
                TIMEZONES[n % len(TIMEZONES)],
            )
            for n in range(count)
        ]


def load_postgres(engine: Engine, users_count: int, weeks: int) -> None:
    """Fill a fresh warehouse: writes in two processes, indexes afterwards, genres, statistics."""
    people = add_listeners(engine, users_count)
    with engine.begin() as conn:
        for index in secondary_indexes():
            index.drop(conn)
    url = engine.url.render_as_string(hide_password=False)
    jobs = [
        (url, people[i : i + USERS_PER_BATCH], weeks)
        for i in range(0, len(people), USERS_PER_BATCH)
    ]
    started, written = time.perf_counter(), 0
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        for done, inserted in enumerate(pool.imap_unordered(load_batch, jobs), 1):
            written += inserted
            if done % 25 == 0 or done == len(jobs):
                rate = written / (time.perf_counter() - started)
                print(f"  {done * USERS_PER_BATCH:,} users, {written:,} plays, {rate:,.0f}/s",
                      file=sys.stderr)  # fmt: skip
    add_genres(engine)
    build_indexes(engine)


def build_indexes(engine: Engine, *indexes: Index) -> None:
    started = time.perf_counter()
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SET maintenance_work_mem = '1GB'"))
        for index in indexes or secondary_indexes():
            index.create(conn)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE" if conn.dialect.name == "postgresql" else "ANALYZE"))
    print(f"  indexes built in {time.perf_counter() - started:.0f}s", file=sys.stderr)


def add_genres(engine: Engine) -> None:
    """What enrichment would store: each catalog artist's genres."""
    catalog = build_catalog(SEED)
    known = [
        {"key": artist.ref.id, "genres": list(artist.genres)}
        for artist in catalog.artists
        if artist.ref.id
    ]
    artist = schema.dim_artist
    with engine.begin() as conn:
        conn.execute(
            artist.update()
            .where(artist.c.artist_key == bindparam("artist"))
            .values(genres=bindparam("tags")),
            [{"artist": k["key"], "tags": k["genres"]} for k in known],
        )


def ensure_postgres(admin_url: str, users_count: int, weeks: int, reload: bool) -> Engine:
    tag = load_tag(users_count, weeks)
    admin = create_engine(
        admin_url.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT"
    )
    url = f"{admin_url.rsplit('/', 1)[0]}/{DATABASE}"
    with admin.connect() as conn:
        exists = conn.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": DATABASE}
        ).scalar()
    if exists and not reload:
        engine = db.connect(url)
        if stored_tag(engine) == tag:
            print(f"PostgreSQL: reusing {DATABASE} ({tag})", file=sys.stderr)
            sync_indexes(engine)
            return engine
        engine.dispose()
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"))
        conn.execute(text(f"CREATE DATABASE {DATABASE}"))
    admin.dispose()
    engine = db.connect(url)
    db.upgrade(engine)
    print(f"PostgreSQL: loading {tag}", file=sys.stderr)
    started = time.perf_counter()
    load_postgres(engine, users_count, weeks)
    print(f"PostgreSQL: loaded in {time.perf_counter() - started:.0f}s", file=sys.stderr)
    mark_loaded(engine, tag)
    return engine


# --- SQLite: the same rows, copied ------------------------------------------------------


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list):
        return json.dumps(value)
    return value


def copy_table(source: Connection, target: Any, table: Any, where: Any = None) -> int:
    """Stream `table` from PostgreSQL into the SQLite DB-API connection `target`."""
    columns = [c.name for c in table.columns]
    insert = (
        f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    )
    query = select(table) if where is None else select(table).where(where)
    rows = source.execution_options(stream_results=True, yield_per=50_000).execute(query)
    copied = 0
    for chunk in rows.partitions():
        target.executemany(insert, [tuple(_sqlite_value(v) for v in row) for row in chunk])
        copied += len(chunk)
    return copied


def ensure_sqlite(postgres: Engine, users_count: int, tag: str, reload: bool) -> Engine:
    tag = f"{tag} sqlite_users={users_count}"
    if SQLITE_FILE.exists() and not reload:
        engine = db.connect(f"sqlite:///{SQLITE_FILE}")
        if stored_tag(engine) == tag:
            print(f"SQLite: reusing {SQLITE_FILE.relative_to(ROOT)} ({tag})", file=sys.stderr)
            sync_indexes(engine)
            return engine
        engine.dispose()
    for leftover in SQLITE_FILE.parent.glob(f"{SQLITE_FILE.name}*"):
        leftover.unlink()
    engine = db.connect(f"sqlite:///{SQLITE_FILE}")
    db.upgrade(engine)
    started = time.perf_counter()
    with engine.begin() as conn:
        for index in secondary_indexes():
            index.drop(conn)
    mine = schema.fact_play.c.user_key <= users_count
    with postgres.connect() as source, engine.begin() as conn:
        target = conn.connection.driver_connection
        assert target is not None
        for table in (
            schema.dim_user,
            schema.dim_date,
            schema.dim_album,
            schema.dim_artist,
            schema.dim_track,
            schema.bridge_track_artist,
        ):
            copy_table(source, target, table)  # fmt: skip
        plays = copy_table(source, target, schema.fact_play, mine)
    print(f"SQLite: copied {plays:,} plays in {time.perf_counter() - started:.0f}s",
          file=sys.stderr)  # fmt: skip
    build_indexes(engine)
    mark_loaded(engine, tag)
    return engine


# --- measuring --------------------------------------------------------------------------


@dataclass
class Row:
    backend: str
    what: str
    n: int
    median_ms: float
    p95_ms: float
    total_s: float
    floor_ms: float | None

    @property
    def ratio(self) -> str:
        return f"{self.median_ms / self.floor_ms:,.1f}×" if self.floor_ms else ""


def timings(call: Callable[[int], object], user_keys: Sequence[int]) -> list[float]:
    """Seconds per call, one call per user, in order."""
    spent = []
    for user_key in user_keys:
        started = time.perf_counter()
        call(user_key)
        spent.append(time.perf_counter() - started)
    return spent


def count_week(conn: Connection) -> Callable[[int], object]:
    """The floor: count one user's rows in the week, through the same index."""
    first, last = week_date_keys(WEEK)
    play = schema.fact_play.c

    def count(user_key: int) -> int:
        in_week = select(func.count()).where(
            play.user_key == user_key, play.local_date_key >= first, play.local_date_key < last
        )
        return int(conn.execute(in_week).scalar_one())

    return count


def row(backend: str, what: str, spent: list[float], floor: list[float] | None) -> Row:
    ordered = sorted(spent)
    return Row(
        backend=backend,
        what=what,
        n=len(spent),
        median_ms=statistics.median(spent) * 1000,
        p95_ms=ordered[max(0, round(0.95 * len(ordered)) - 1)] * 1000,
        total_s=sum(spent),
        floor_ms=statistics.median(floor) * 1000 if floor else None,
    )


def measure(backend: str, engine: Engine, users_count: int, sample: int) -> Iterator[Row]:
    everyone = list(range(1, users_count + 1))
    picked = random.Random(SEED).sample(everyone, min(sample, users_count))
    with engine.connect() as conn:
        plays = conn.execute(select(func.count()).select_from(schema.fact_play)).scalar_one()
        print(f"{backend}: {plays:,} plays in fact_play", file=sys.stderr)

        def week(user_key: int) -> object:
            return weekly_stats(conn, user_key, WEEK, now=END)

        def year(user_key: int) -> object:
            return range_stats(conn, user_key, *YEAR, now=END)

        timings(week, picked[:20])  # warm the cache and the statement cache
        floor = timings(count_week(conn), picked)
        yield row(backend, "count(*) of one user-week (floor)", floor, None)
        yield row(backend, "weekly_stats, one user-week", timings(week, picked), floor)
        all_floor = timings(count_week(conn), everyone)
        yield row(backend, "count(*) of every user's week", all_floor, None)
        yield row(backend, "weekly_stats, every user", timings(week, everyone), all_floor)
        yield row(backend, "range_stats, one user-year", timings(year, picked[:50]), None)


def report(rows: list[Row], plays: dict[str, int]) -> None:
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"\n{os.cpu_count()} CPUs; load average after the run: {load}")
    print("\n| backend | plays | measured | users | median ms | p95 ms | total s | × floor |")
    print("|---|---:|---|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r.backend} | {plays[r.backend]:,} | {r.what} | {r.n:,} | {r.median_ms:,.2f} | "
            f"{r.p95_ms:,.2f} | {r.total_s:,.2f} | {r.ratio} |"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--weeks", type=int, default=104)
    parser.add_argument("--sqlite-users", type=int, default=1000)
    parser.add_argument("--sample", type=int, default=200)
    parser.add_argument("--reload", action="store_true")
    args = parser.parse_args()
    url = postgres_url()
    if url is None:
        print("no PostgreSQL: run `make bench`, or scripts/pg-start", file=sys.stderr)
        return 1
    postgres = ensure_postgres(url, args.users, args.weeks, args.reload)
    sqlite_users = min(args.sqlite_users, args.users)
    sqlite = ensure_sqlite(postgres, sqlite_users, load_tag(args.users, args.weeks), args.reload)
    rows: list[Row] = []
    plays: dict[str, int] = {}
    for backend, engine, count in (("PostgreSQL", postgres, args.users),
                                   ("SQLite", sqlite, sqlite_users)):  # fmt: skip
        with engine.connect() as conn:
            plays[backend] = conn.execute(
                select(func.count()).select_from(schema.fact_play)
            ).scalar_one()
        rows.extend(measure(backend, engine, count, args.sample))
    report(rows, plays)
    return 0


if __name__ == "__main__":
    sys.exit(main())

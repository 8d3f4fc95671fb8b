"""Write throughput: our bulk path against a naive ORM baseline, on SQLite and PostgreSQL.

    python benchmarks/bench_write.py [--events 200000] [--naive-events 2000]

`--events` defaults to WRAPPED_BENCH_EVENTS (else 200k): iterate small, report at 200k.
The bulk path is the embedded processor (validation, dedupe, transform and the
executemany/COPY upserts) handed PlayEvents, as the importer and poller do; "from
JSON" hands it the events' JSON bytes, as the Kafka consumer does, so each is
validated. "Writes alone" times only the database writes of rows transformed
beforehand: the floor the database itself sets. Each bulk path prints its
stages in µs per event.
The baseline is what a first prototype does: ORM objects looked up, added and
committed one play at a time. The baseline runs on fewer events (it is slow) and
is reported as a rate. PostgreSQL comes from WRAPPED_BENCH_PG_URL or `.pg/url`
(`make bench` starts one).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session, registry

from common import fresh_postgres_database, postgres_url
from stages import stage_table
from weekly_wrapped.events import PlayEvent
from weekly_wrapped.processing.embedded import EmbeddedProcessor
from weekly_wrapped.processing.processor import Message, StageTimes
from weekly_wrapped.processing.transform import Context, transform
from weekly_wrapped.sources.synthetic import build_catalog, generate_plays
from weekly_wrapped.warehouse import db, schema, users
from weekly_wrapped.warehouse.writer import write_rows

ROOT = Path(__file__).resolve().parents[1]
END = datetime(2026, 11, 23, tzinfo=UTC)


@dataclass
class Measurement:
    backend: str
    path: str
    events: int
    seconds: float
    stages: StageTimes | None = None

    @property
    def rate(self) -> float:
        return self.events / self.seconds


def synthetic_events(count: int) -> list[PlayEvent]:
    """Enough users' listening to reach `count` plays, then cut to exactly `count`."""
    catalog = build_catalog(seed=0)
    events: list[PlayEvent] = []
    user = 1
    while len(events) < count:
        events.extend(generate_plays(user, weeks=52, seed=user, end=END, catalog=catalog))
        user += 1
    return events[:count]


def prepare(engine: Engine, user_count: int) -> None:
    db.upgrade(engine)
    with engine.begin() as conn:
        for i in range(user_count):
            users.add_user(conn, name=f"Listener {i + 1}", timezone="Europe/Berlin")


def writer_only(engine: Engine, events: Sequence[PlayEvent]) -> float:
    """The floor: only the database writes, with every row transformed beforehand."""
    with engine.connect() as conn:
        zones = {u.user_key: u.timezone for u in users.list_users(conn)}
    batches = [
        transform(events[i : i + 5000], Context(timezones=zones))
        for i in range(0, len(events), 5000)
    ]
    started = time.perf_counter()
    for rows in batches:
        with engine.begin() as conn:
            write_rows(conn, rows)
    return time.perf_counter() - started


def bulk_write(
    times: StageTimes, payloads: Sequence[bytes] | None = None
) -> Callable[[Engine, Sequence[PlayEvent]], None]:
    """The embedded processor, handed the events themselves or (given) their JSON bytes."""

    def write(engine: Engine, events: Sequence[PlayEvent]) -> None:
        messages: Sequence[Message] = events if payloads is None else payloads
        result = EmbeddedProcessor(engine, batch_size=5000, times=times).process(messages)
        assert result.inserted == len(events), result

    return write


class _Naive:
    """ORM classes mapped onto the same tables, as a prototype would declare them."""


def naive_write(engine: Engine, events: Sequence[PlayEvent]) -> None:
    mapper = registry()
    classes = {}
    for table in (
        schema.dim_date,
        schema.dim_album,
        schema.dim_artist,
        schema.dim_track,
        schema.bridge_track_artist,
        schema.fact_play,
    ):
        cls = type(table.name, (_Naive,), {})
        mapper.map_imperatively(cls, table)
        classes[table.name] = (cls, table)
    with engine.connect() as conn:
        zones = {u.user_key: u.timezone for u in users.list_users(conn)}
    try:
        with Session(engine) as session:
            for event in events:
                rows = transform([event], Context(timezones=zones))
                for name, values in (
                    ("dim_date", rows.dates.values()),
                    ("dim_album", rows.albums.values()),
                    ("dim_artist", rows.artists.values()),
                    ("dim_track", rows.tracks.values()),
                    ("bridge_track_artist", rows.bridges.values()),
                    ("fact_play", rows.plays),
                ):
                    cls, table = classes[name]
                    for row in values:
                        key = tuple(getattr(row, c.name) for c in table.primary_key.columns)
                        if session.get(cls, key if len(key) > 1 else key[0]) is None:
                            session.add(cls(**row._asdict()))
                session.commit()
    finally:
        mapper.dispose()


def timed(
    backend: str,
    path: str,
    make_engine: Callable[[], Engine],
    write: Callable[[Engine, Sequence[PlayEvent]], float | None],
    events: Sequence[PlayEvent],
) -> Measurement:
    """Time `write`; a write that times its own part returns those seconds instead."""
    engine = make_engine()
    prepare(engine, len({e.user_id for e in events}))
    started = time.perf_counter()
    own = write(engine, events)
    seconds = own if own is not None else time.perf_counter() - started
    engine.dispose()
    return Measurement(backend, path, len(events), seconds)


def sqlite_factory(folder: Path) -> Callable[[], Engine]:
    counter = iter(range(1000))
    return lambda: db.connect(f"sqlite:///{folder / f'bench-{next(counter)}.db'}")


def postgres_factory(admin_url: str) -> Callable[[], Engine]:
    return lambda: db.connect(fresh_postgres_database(admin_url, "wrapped_bench_write"))


def report(results: list[Measurement]) -> None:
    print("\n| backend | path | events | seconds | events/s | × naive | × writes alone |")
    print("|---|---|---:|---:|---:|---:|---:|")
    naive = {m.backend: m.rate for m in results if m.path == "naive ORM"}
    floor = {m.backend: m.rate for m in results if m.path.startswith("writes alone")}
    for m in results:
        ratio = m.rate / naive[m.backend] if m.backend in naive else float("nan")
        print(
            f"| {m.backend} | {m.path} | {m.events:,} | {m.seconds:.2f} | "
            f"{m.rate:,.0f} | {ratio:,.1f}× | {floor[m.backend] / m.rate:.2f}× |"
        )
    for m in results:
        if m.stages:
            print(f"\n{m.backend}, {m.path}, stage by stage:\n")
            print(stage_table(m.stages.seconds, m.stages.cpu_seconds, m.events))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--events", type=int, default=int(os.environ.get("WRAPPED_BENCH_EVENTS", 200_000))
    )
    parser.add_argument("--naive-events", type=int, default=2_000)
    args = parser.parse_args()

    started = time.perf_counter()
    events = synthetic_events(args.events)
    print(
        f"generated {len(events):,} events from {len({e.user_id for e in events})} users "
        f"in {time.perf_counter() - started:.1f}s"
    )
    sample = events[: args.naive_events]
    as_json = [e.to_json() for e in events]
    results: list[Measurement] = []
    with tempfile.TemporaryDirectory() as folder:
        backends: list[tuple[str, Callable[[], Engine]]] = [
            ("SQLite", sqlite_factory(Path(folder)))
        ]
        url = postgres_url()
        if url:
            backends.append(("PostgreSQL", postgres_factory(url)))
        else:
            print(
                "no PostgreSQL (run `make bench`, or scripts/pg-start): SQLite only",
                file=sys.stderr,
            )
        for name, factory in backends:
            for path, payloads in (("bulk (ours)", None), ("bulk from JSON", as_json)):
                times = StageTimes()
                write = bulk_write(times, payloads)
                results.append(timed(name, path, factory, write, events))
                results[-1].stages = times
            results.append(timed(name, "naive ORM", factory, naive_write, sample))
            results.append(timed(name, "writes alone (floor)", factory, writer_only, events))
            print(f"{name}: done", file=sys.stderr)
    report(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())

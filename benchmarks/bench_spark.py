"""Spark: 1M events already in the topic, into PostgreSQL on local[2] (goal: 25k events/s).

Prints, from one run:
- the job's sustained rate (batches after the first, which carries the start-up) and its
  whole-run rate, against the embedded Kafka consumer reading the same topic into
  another database (the baseline);
- the median end-to-end latency (produce → row visible) at a steady 2k events/s.

    python benchmarks/bench_spark.py [--events 1000000] [--latency-s 30]

Needs a broker (`scripts/kafka-start`, or WRAPPED_BENCH_KAFKA_BOOTSTRAP), a PostgreSQL
(`scripts/pg-start`, or WRAPPED_BENCH_PG_URL) and the jars (`scripts/jvm-jars spark`).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.bench_kafka import bootstrap
from benchmarks.bench_write import prepare, synthetic_events
from benchmarks.common import fresh_postgres_database, postgres_url
from sqlalchemy import Engine, func, select

from weekly_wrapped.bus.factory import open_stream
from weekly_wrapped.bus.kafka import KafkaBus
from weekly_wrapped.config import Settings, load_settings
from weekly_wrapped.events import PlayEvent
from weekly_wrapped.processing.spark_job import SparkStream
from weekly_wrapped.warehouse import db
from weekly_wrapped.warehouse.schema import fact_play


def settings_for(admin_url: str, name: str, topic: str, users: int, **extra: object) -> Settings:
    engine = db.connect(fresh_postgres_database(admin_url, f"wrapped_bench_{name}"))
    prepare(engine, users)
    return load_settings(
        database_url=engine.url.render_as_string(hide_password=False),
        data_dir=Path(tempfile.mkdtemp(prefix=f"bench-{name}-")),
        bus="kafka",
        kafka_bootstrap=bootstrap(),
        kafka_topic=topic,
        kafka_dlq_topic=f"{topic}.dlq",
        kafka_group=f"{topic}.{name}",
        **extra,
    )


def plays(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(fact_play)).scalar_one())


def latency(admin_url: str, events: list[PlayEvent], users: int, seconds: float) -> float:
    """Median seconds from publishing an event to its row being visible, at 2k events/s."""
    topic = f"bench.{uuid.uuid4().hex[:8]}.steady"
    settings = settings_for(admin_url, "latency", topic, users, engine="spark", spark_trigger_s=0.5)
    engine = db.connect(settings.db_url)
    bus = KafkaBus(settings)
    job = SparkStream(settings)
    runner = threading.Thread(target=job.run, daemon=True)
    runner.start()
    time.sleep(20)  # the query starts and reads its empty topic once
    rate, sent_at = 2_000, []
    started = time.perf_counter()
    for start in range(0, min(len(events), int(rate * seconds)), rate // 10):
        bus.publish(events[start : start + rate // 10])
        sent_at.append((start + rate // 10, time.perf_counter()))
        time.sleep(max(0.0, started + len(sent_at) / 10 - time.perf_counter()))
    delays, pending = [], list(sent_at)
    deadline = time.perf_counter() + 120
    while pending and time.perf_counter() < deadline:
        visible = plays(engine)
        now = time.perf_counter()
        while pending and pending[0][0] <= visible:
            delays.append(now - pending.pop(0)[1])
        time.sleep(0.05)
    job.stop()
    runner.join(60)
    return statistics.median(delays)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--latency-s", type=float, default=30.0)
    args = parser.parse_args()
    admin_url = postgres_url()
    if admin_url is None:
        sys.exit("no PostgreSQL: start one with scripts/pg-start")
    events = synthetic_events(args.events)
    users = len({e.user_id for e in events})
    topic = f"bench.{uuid.uuid4().hex[:8]}.plays"
    spark = settings_for(
        admin_url, "spark", topic, users, engine="spark", spark_max_offsets_per_trigger=100_000
    )
    bus = KafkaBus(spark)
    for start in range(0, len(events), 50_000):
        bus.publish(events[start : start + 50_000])
    print(f"{len(events):,} events from {users} users in the topic")

    job = SparkStream(spark)
    started = time.perf_counter()
    report = job.run(until_idle=True)
    spark_s = time.perf_counter() - started
    assert plays(db.connect(spark.db_url)) == report.written.inserted
    batch_s = job.batch_seconds[1:]
    batch_rows = job.batch_rows[1:]
    sustained = sum(batch_rows) / sum(batch_s) if batch_s else float("nan")

    embedded = settings_for(admin_url, "embedded", topic, users)
    warehouse = db.connect(embedded.db_url)
    started = time.perf_counter()
    open_stream(warehouse, embedded).run(until_idle=True)
    embedded_s = time.perf_counter() - started

    count = len(events)
    print(
        f"| Spark job, {count:,} events in the topic into PostgreSQL, local[2] "
        f"| sustained {sustained:,.0f} events/s (batches after the first), whole run "
        f"{count / spark_s:,.0f}/s incl. start-up (goal 25,000) "
        f"| embedded Kafka consumer, same topic, same run: {count / embedded_s:,.0f}/s "
        f"(Spark {embedded_s / spark_s:.2f}×) |"
    )
    median = latency(admin_url, events, users, args.latency_s)
    print(f"| Spark job at a steady 2,000 events/s | median produce → visible {median:.2f} s |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Kafka: produce 1M PlayEvents, then consume them into PostgreSQL (goals: 100k/s, 40k/s).

The baseline, in the same run: a bare producer and consumer moving the same bytes
with the same client settings and no processing, the transport's own limit.
`--profile` profiles the consume phase and prints where its time went.

    python benchmarks/bench_kafka.py [--events 1000000] [--profile]

Needs a broker (`scripts/kafka-start`, or WRAPPED_BENCH_KAFKA_BOOTSTRAP) and a
PostgreSQL (`scripts/pg-start`, or WRAPPED_BENCH_PG_URL); `make bench-kafka` starts both.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import time
import uuid
from pathlib import Path

from confluent_kafka import Consumer, Producer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.bench_write import prepare, synthetic_events
from benchmarks.common import ROOT, fresh_postgres_database, postgres_url

from weekly_wrapped.bus.factory import open_stream
from weekly_wrapped.bus.kafka import PLAY_HEADERS, KafkaBus
from weekly_wrapped.config import Settings, load_settings
from weekly_wrapped.warehouse import db


def bootstrap() -> str:
    address = os.environ.get("WRAPPED_BENCH_KAFKA_BOOTSTRAP")
    state = ROOT / ".kafka" / "bootstrap"
    if address or state.exists():
        return address or state.read_text().strip()
    sys.exit("no Kafka: start one with scripts/kafka-start (make bench-kafka does)")


def bare_round_trip(settings: Settings, values: list[tuple[bytes, bytes]]) -> tuple[float, float]:
    """Seconds to produce, then to consume, the same bytes with nothing else done."""
    topic = settings.kafka_topic + ".bare"
    KafkaBus(settings.model_copy(update={"kafka_topic": topic}))  # creates the topic
    producer = Producer(
        {
            "bootstrap.servers": settings.kafka_bootstrap,
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": settings.kafka_linger_ms,
            "batch.size": settings.kafka_batch_bytes,
            "compression.type": settings.kafka_compression,
            "queue.buffering.max.messages": 1_000_000,
        }
    )
    started = time.perf_counter()
    for key, value in values:
        while True:
            try:
                producer.produce(topic, value, key, headers=PLAY_HEADERS)
                break
            except BufferError:
                producer.poll(0.05)
    producer.flush()
    produced = time.perf_counter() - started
    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap,
            "group.id": f"{topic}.group",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    started, read = time.perf_counter(), 0
    while read < len(values):
        batch = consumer.consume(settings.batch_size, 1.0)
        read += len(batch)
        if batch:
            consumer.commit(asynchronous=False)
    consumed = time.perf_counter() - started
    consumer.close()
    return produced, consumed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    admin_url = postgres_url()
    if admin_url is None:
        sys.exit("no PostgreSQL: start one with scripts/pg-start (make bench-kafka does)")
    events = synthetic_events(args.events)
    users = len({e.user_id for e in events})
    print(f"generated {len(events):,} events from {users} users")
    engine = db.connect(fresh_postgres_database(admin_url, "wrapped_bench_kafka"))
    prepare(engine, users)
    name = f"bench.{uuid.uuid4().hex[:8]}"
    settings = load_settings(
        database_url=engine.url.render_as_string(hide_password=False),
        bus="kafka",
        kafka_bootstrap=bootstrap(),
        kafka_topic=f"{name}.plays",
        kafka_dlq_topic=f"{name}.dlq",
        kafka_group=f"{name}.group",
    )

    bus = KafkaBus(settings)
    started = time.perf_counter()
    for start in range(0, len(events), 50_000):
        bus.publish(events[start : start + 50_000])
    produce_s = time.perf_counter() - started

    stream = open_stream(engine, settings)
    profiler = cProfile.Profile() if args.profile else None
    started = time.perf_counter()
    if profiler is not None:
        profiler.enable()
    report = stream.run(until_idle=True)
    if profiler is not None:
        profiler.disable()
    consume_s = time.perf_counter() - started
    assert report.messages == len(events), report

    values = [(str(e.user_id).encode(), e.to_json()) for e in events]
    bare_produce_s, bare_consume_s = bare_round_trip(settings, values)

    count = len(events)
    print(
        f"| produce {count:,} PlayEvents | {count / produce_s:,.0f} events/s (goal 100,000) "
        f"| bare produce of the same bytes: {count / bare_produce_s:,.0f}/s "
        f"(ours {bare_produce_s / produce_s:.2f}×) |"
    )
    print(
        f"| consume them into PostgreSQL | {count / consume_s:,.0f} events/s (goal 40,000; "
        f"{report.batches} batches, group join and idle check included) "
        f"| bare consume: {count / bare_consume_s:,.0f}/s (ours {bare_consume_s / consume_s:.3f}×) |"
    )
    if profiler is not None:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

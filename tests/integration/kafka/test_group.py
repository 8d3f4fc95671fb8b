"""Two consumers in one group split the partitions, and together write each play once."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.integration.kafka.conftest import Topics, add_user, play_ids, start_consumer
from weekly_wrapped.bus import acknowledged
from weekly_wrapped.bus.kafka import KafkaBus
from weekly_wrapped.sources.synthetic import generate_plays

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def batches_of(log: str) -> int:
    return sum("batch: " in line for line in log.splitlines())


def test_two_consumers_of_one_group_split_the_partitions_without_double_writes(
    database_factory: Callable[[str], Engine], topics: Topics, tmp_path: Path
) -> None:
    engine = database_factory("postgresql")
    users = [add_user(engine, name) for name in ("Ada", "Grace", "Linus", "Mary", "Alan", "Edsger")]
    settings = topics.settings(engine, tmp_path, batch_size=25, kafka_partitions=6)
    plays = [p for u in users for p in generate_plays(u, weeks=2, seed=u, timezone="UTC")]
    bus = KafkaBus(settings)

    consumers = [start_consumer(settings, WRAPPED_LOG_LEVEL="INFO") for _ in range(2)]
    for consumer in consumers:  # both hold their share of the group before a play is published
        assert consumer.stderr is not None
        while True:
            line = consumer.stderr.readline()
            assert line, f"the consumer stopped by itself: {consumer.wait()}"
            if "partitions assigned: " in line and line.count(",") == 2:
                break
    acknowledged(bus.publish(plays), len(plays))
    acknowledged(bus.publish(plays[:200]), 200)  # a source that sent some twice

    expected = sorted({p.event_id for p in plays})
    deadline = time.monotonic() + 120
    while play_ids(engine) != expected and time.monotonic() < deadline:
        time.sleep(0.2)
    logs = []
    for consumer in consumers:
        consumer.send_signal(signal.SIGTERM)
        _, err = consumer.communicate(timeout=60)
        assert consumer.returncode == 0, err[-2000:]
        logs.append(err)

    assert play_ids(engine) == expected
    assert all(batches_of(log) > 0 for log in logs), "each consumer wrote partitions of its own"

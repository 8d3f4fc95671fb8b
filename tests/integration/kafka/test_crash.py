"""`kill -9` the consumer anywhere, start it again: every play lands once, none twice, none lost."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.integration.kafka.conftest import (
    Kcat,
    Topics,
    add_user,
    play_ids,
    start_consumer,
    wrapped,
)
from weekly_wrapped.bus import acknowledged
from weekly_wrapped.bus.consumer import PlayStream
from weekly_wrapped.bus.factory import open_stream
from weekly_wrapped.bus.kafka import Batch, KafkaBus
from weekly_wrapped.sources.synthetic import generate_plays

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def test_a_consumer_killed_at_several_points_ends_with_exactly_the_distinct_plays(
    database_factory: Callable[[str], Engine], topics: Topics, tmp_path: Path
) -> None:
    engine = database_factory("postgresql")
    users = [add_user(engine, name) for name in ("Ada", "Grace", "Linus")]
    # A static member: each restart takes the partitions back at once, with no rebalance wait.
    settings = topics.settings(engine, tmp_path, batch_size=30, kafka_instance_id="crash-test")
    plays = [p for u in users for p in generate_plays(u, weeks=2, seed=u, timezone="UTC")]
    bus = KafkaBus(settings)
    acknowledged(bus.publish(plays), len(plays))
    acknowledged(bus.publish(plays[:150]), 150)  # sent twice, as a re-run source does
    assert len(plays) > 600

    for batches, then in [(1, 0.0), (4, 0.0), (3, 0.15), (6, 0.05)]:
        consumer = start_consumer(settings)
        assert consumer.stderr is not None
        seen = 0
        while seen < batches:
            line = consumer.stderr.readline()
            assert line, f"the consumer stopped by itself: {consumer.wait()}"
            seen += "batch: " in line
        time.sleep(then)  # 0: just after a commit; otherwise, likely inside the next batch
        consumer.send_signal(signal.SIGKILL)
        consumer.wait()
        consumer.stderr.close()
        assert consumer.stdout is not None
        consumer.stdout.close()

    done = wrapped("process", "--until-idle", settings=settings)
    assert done.returncode == 0, done.stderr
    assert play_ids(engine) == sorted({p.event_id for p in plays})


def test_a_batch_read_again_after_a_crash_dead_letters_its_rejects_once(
    database_factory: Callable[[str], Engine], topics: Topics, tmp_path: Path, kcat: Kcat
) -> None:
    engine = database_factory("postgresql")
    user = add_user(engine)
    settings = topics.settings(engine, tmp_path, kafka_partitions=1, kafka_instance_id="dlq-once")
    plays = list(generate_plays(user, weeks=1, seed=3, timezone="UTC"))[:20]
    acknowledged(KafkaBus(settings).publish(plays), len(plays))
    bad = [b"not json at all", b'{"schema": "play.v1", "event_id": "x"}']
    kcat("-P", "-t", settings.kafka_topic, "-H", "schema=play.v1", stdin=b"\n".join(bad))

    first = open_stream(engine, settings)
    assert isinstance(first, PlayStream)
    batch = first.source.read(100, 10.0)
    while len(batch.messages) < len(plays) + len(bad):
        batch = Batch.of([*batch.messages, *first.source.read(100, 1.0).messages])
    first.write(batch)  # the plays are committed, the letters sent ...
    first.delivery.producer.flush(10)
    # ... and the process dies before its offsets commit: no abort, no goodbye.

    again = wrapped("process", "--until-idle", settings=settings)
    assert again.returncode == 0, again.stderr
    assert play_ids(engine) == sorted(p.event_id for p in plays)
    letters = kcat("-C", "-t", settings.kafka_dlq_topic, "-e", "-q", "-f", "%s\n").stdout
    assert sorted(letters.splitlines()) == sorted(bad), "each reject dead-lettered once"

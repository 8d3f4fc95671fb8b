"""`kill -9` the consumer anywhere, start it again: every play lands once, none twice, none lost."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.integration.kafka.conftest import Topics, add_user, play_ids, start_consumer, wrapped
from weekly_wrapped.bus import acknowledged
from weekly_wrapped.bus.kafka import KafkaBus
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

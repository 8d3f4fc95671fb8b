"""`wrapped init` with WRAPPED_BUS=kafka also creates the topics, as the deployments expect.

The compose stack's one-shot `init` runs only this command before the stream job and
the web service start: the topics must exist afterwards with the configured
partitions, and a second run (an upgrade) must find them and change nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient
from sqlalchemy import Engine, inspect

from tests.integration.kafka.conftest import Topics, wrapped

pytestmark = pytest.mark.postgres


def partitions(bootstrap: str, topic: str) -> int | None:
    """The topic's partition count on the broker, or None when it does not exist."""
    found = AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=10).topics
    return len(found[topic].partitions) if topic in found else None


def test_init_creates_the_topics_once(
    database_factory: Callable[[str], Engine], topics: Topics, tmp_path: Path
) -> None:
    engine = database_factory("postgresql")
    settings = topics.settings(engine, tmp_path, kafka_partitions=4)
    play_topic, dlq_topic = settings.kafka_topic, settings.kafka_dlq_topic
    assert partitions(settings.kafka_bootstrap, play_topic) is None

    first = wrapped("init", settings=settings)
    assert first.returncode == 0, first.stderr
    assert partitions(settings.kafka_bootstrap, play_topic) == 4
    assert partitions(settings.kafka_bootstrap, dlq_topic) == 4
    assert "fact_play" in inspect(engine).get_table_names()
    assert f"created {play_topic}, {dlq_topic}" in " ".join(first.stdout.split())

    again = wrapped("init", settings=settings, WRAPPED_KAFKA_PARTITIONS="8")
    assert again.returncode == 0, again.stderr
    assert "all there already" in again.stdout
    assert partitions(settings.kafka_bootstrap, play_topic) == 4


def test_init_with_the_local_bus_needs_no_kafka(
    database_factory: Callable[[str], Engine], topics: Topics, tmp_path: Path
) -> None:
    engine = database_factory("sqlite")
    settings = topics.settings(engine, tmp_path, bus="local", kafka_bootstrap="127.0.0.1:1")
    done = wrapped("init", settings=settings)
    assert done.returncode == 0, done.stderr
    assert "Topics" not in done.stdout


def test_init_names_the_broker_it_could_not_reach(
    database_factory: Callable[[str], Engine], topics: Topics, tmp_path: Path
) -> None:
    engine = database_factory("sqlite")
    settings = topics.settings(engine, tmp_path, kafka_bootstrap="127.0.0.1:1")
    done = wrapped("init", settings=settings, timeout=60)
    assert done.returncode != 0
    assert "127.0.0.1:1" in done.stderr
    assert "Traceback" not in done.stderr

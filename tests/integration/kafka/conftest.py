"""One Kafka broker per test session (scripts/kafka-start), and fresh topics for each test.

`make test` starts the broker and exports WRAPPED_TEST_KAFKA_BOOTSTRAP; a broker
started by hand is found through `.kafka/bootstrap`. In CI a missing broker fails.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient
from sqlalchemy import Engine, func, select

from tests.cli import WRAPPED
from tests.conftest import ROOT
from weekly_wrapped.config import Settings, load_settings
from weekly_wrapped.warehouse import users
from weekly_wrapped.warehouse.schema import fact_play, fact_play_merged


def kafka_bootstrap_address() -> str | None:
    """The broker scripts/kafka-start runs: from WRAPPED_TEST_KAFKA_BOOTSTRAP or `.kafka/bootstrap`."""
    address = os.environ.get("WRAPPED_TEST_KAFKA_BOOTSTRAP")
    if address:
        return address
    state = ROOT / ".kafka" / "bootstrap"
    return state.read_text().strip() if state.exists() else None


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    address = kafka_bootstrap_address()
    if address is None:
        if os.environ.get("CI"):
            pytest.fail("CI=true but no Kafka: start one with scripts/kafka-start (make test does)")
        pytest.skip("no Kafka running: start one with scripts/kafka-start")
    return address


class Topics:
    """Fresh topic names and a consumer group of one test, deleted afterwards."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self.made: list[str] = []

    def settings(self, engine: Engine, data_dir: Path, **overrides: Any) -> Settings:
        """Settings pointing at `engine` and at topics and a group no other test uses."""
        name = f"test.{uuid.uuid4().hex[:12]}"
        self.made += [f"{name}.plays", f"{name}.dlq"]
        options: dict[str, Any] = {
            "data_dir": data_dir,
            "database_url": engine.url.render_as_string(hide_password=False),
            "bus": "kafka",
            "kafka_bootstrap": self.bootstrap,
            "kafka_topic": f"{name}.plays",
            "kafka_dlq_topic": f"{name}.dlq",
            "kafka_group": f"{name}.group",
            "kafka_partitions": 3,
            "kafka_poll_timeout_s": 0.5,
        }
        return load_settings(**(options | overrides))

    def delete(self) -> None:
        if self.made:
            admin = AdminClient({"bootstrap.servers": self.bootstrap})
            for future in admin.delete_topics(self.made, operation_timeout=10).values():
                try:
                    future.result()
                except Exception:  # noqa: BLE001, S110 - a topic never created is fine
                    pass


@pytest.fixture
def topics(kafka_bootstrap: str) -> Iterator[Topics]:
    """The topic factory: ``topics.settings(engine, tmp_path)`` gives a test its own topics."""
    made = Topics(kafka_bootstrap)
    yield made
    made.delete()


def env_of(settings: Settings) -> dict[str, str]:
    """The WRAPPED_* variables that give a `wrapped` process these settings."""
    names = [
        "data_dir",
        "database_url",
        "bus",
        "batch_size",
        "kafka_bootstrap",
        "kafka_topic",
        "kafka_dlq_topic",
        "kafka_group",
        "kafka_partitions",
        "kafka_poll_timeout_s",
        "kafka_delivery_timeout_s",
        "kafka_instance_id",
    ]
    values = {name: getattr(settings, name) for name in names}
    return {f"WRAPPED_{k.upper()}": str(v) for k, v in values.items() if v is not None}


def wrapped(
    *args: str, settings: Settings, timeout: float = 120, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run `wrapped ARGS` in a new process with `settings`."""
    return subprocess.run(
        [*WRAPPED, *args],
        env={**os.environ, "COLUMNS": "160", **env_of(settings), **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def start_consumer(settings: Settings, *args: str, **env: str) -> subprocess.Popen[str]:
    """`wrapped process` running in the background; its log lines on stderr."""
    return subprocess.Popen(
        [*WRAPPED, "process", *args],
        env={**os.environ, "COLUMNS": "160", **env_of(settings), **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def play_ids(engine: Engine) -> list[str]:
    """Every play the warehouse holds, stored or merged into another, in order."""
    with engine.connect() as conn:
        stored = conn.execute(select(fact_play.c.play_id)).scalars().all()
        merged = conn.execute(select(fact_play_merged.c.play_id)).scalars().all()
    return sorted([*stored, *merged])


def count_plays(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(fact_play)).scalar_one())


def add_user(engine: Engine, name: str = "Ada") -> int:
    with engine.begin() as conn:
        return users.add_user(conn, name=name, timezone="Europe/Berlin")


def committed(settings: Settings) -> int:
    """How many messages the group has committed, over every partition of the topic."""
    reader = Consumer(
        {"bootstrap.servers": settings.kafka_bootstrap, "group.id": settings.kafka_group}
    )
    try:
        topic = reader.list_topics(settings.kafka_topic, timeout=10).topics[settings.kafka_topic]
        parts = [TopicPartition(settings.kafka_topic, p) for p in topic.partitions]
        return sum(max(0, tp.offset) for tp in reader.committed(parts, timeout=10))
    finally:
        reader.close()


Kcat = Callable[..., subprocess.CompletedProcess[bytes]]


@pytest.fixture
def kcat(kafka_bootstrap: str) -> Kcat:
    """Run Debian's kcat against the session's broker: the independent client."""

    def run(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            ["kcat", "-b", kafka_bootstrap, *args],
            input=stdin,
            capture_output=True,
            timeout=60,
            check=True,
        )

    return run

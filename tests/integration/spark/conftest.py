"""One Spark session per test module, on local[2], reading the session's Kafka broker.

The Kafka fixtures (a broker per test run, fresh topics per test) are the Kafka
tests'; the Spark job's own jars come from infra/jvm (scripts/jvm-jars spark).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer
from sqlalchemy import Engine, select

from tests.conftest import ROOT
from tests.integration.kafka.conftest import Topics, kafka_bootstrap, topics  # noqa: F401
from weekly_wrapped.bus.kafka import ensure_topics
from weekly_wrapped.config import Settings, load_settings
from weekly_wrapped.processing import spark_job
from weekly_wrapped.warehouse.schema import (
    bridge_track_artist,
    dim_album,
    dim_artist,
    dim_spelling,
    dim_track,
    fact_play,
    fact_play_merged,
    quarantine,
)

WAREHOUSE = [
    fact_play,
    fact_play_merged,
    dim_artist,
    dim_album,
    dim_track,
    dim_spelling,
    bridge_track_artist,
]


@pytest.fixture(scope="session")
def spark_jars() -> str:
    """The folder of the Spark job's Kafka jars (scripts/jvm-jars fetches them once)."""
    jars = subprocess.run(
        [str(ROOT / "scripts" / "jvm-jars"), "spark"], capture_output=True, text=True, check=False
    )
    assert jars.returncode == 0, f"the Spark job's jars could not be fetched: {jars.stderr}"
    return jars.stdout.strip()


@pytest.fixture(scope="module")
def spark(tmp_path_factory: pytest.TempPathFactory, spark_jars: str) -> Iterator[Any]:
    """The module's Spark session; every job run in the module reuses it."""
    settings = load_settings(data_dir=tmp_path_factory.mktemp("spark"), spark_jars=spark_jars)
    session = spark_job.session(settings)
    yield session
    session.stop()


def spark_settings(made: Topics, engine: Engine, data_dir: Path, **overrides: Any) -> Settings:
    """Settings of a job reading its own fresh topic into `engine`, with small batches."""
    options: dict[str, Any] = {
        "engine": "spark",
        "spark_checkpoint": str(data_dir / "checkpoint"),
        "spark_max_offsets_per_trigger": 20_000,
        "spark_trigger_s": 0.5,
    }
    kafka = made.settings(engine, data_dir)
    settings = load_settings(**(kafka.model_dump() | options | overrides))
    ensure_topics(settings)
    return settings


def produce(
    settings: Settings,
    messages: list[tuple[bytes | None, bytes, dict[str, bytes]]],
    *,
    timestamp_ms: int | None = None,
) -> None:
    """Raw records on the play topic, as any producer might send them."""
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap})
    for key, value, headers in messages:
        extra = {} if timestamp_ms is None else {"timestamp": timestamp_ms}
        producer.produce(settings.kafka_topic, value, key, headers=list(headers.items()), **extra)
    assert producer.flush(30) == 0


def rows(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every warehouse row, and each quarantined message with its reason, comparable across runs."""
    from tests.factories import snapshot

    found = snapshot(engine, WAREHOUSE)
    with engine.connect() as conn:
        found["quarantine"] = sorted(
            tuple(r)
            for r in conn.execute(
                select(quarantine.c.reason, quarantine.c.user_key, quarantine.c.payload)
            )
        )
    return found

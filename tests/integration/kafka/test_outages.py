"""Outages: PostgreSQL down while consuming, the broker restarted while producing.

Each outage gets a server of its own, started with the same scripts as the shared
ones (WRAPPED_PG_STATE and WRAPPED_KAFKA_STATE name their state folders), so the
servers every other test uses stay up.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.conftest import ROOT
from tests.integration.kafka.conftest import (
    Topics,
    add_user,
    committed,
    count_plays,
    play_ids,
    start_consumer,
)
from weekly_wrapped.bus import acknowledged
from weekly_wrapped.bus.kafka import KafkaBus
from weekly_wrapped.config import load_settings
from weekly_wrapped.events import PlayEvent
from weekly_wrapped.sources.synthetic import generate_plays
from weekly_wrapped.warehouse import db

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def script(name: str, **env: str) -> str:
    done = subprocess.run(
        [str(ROOT / "scripts" / name)],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return done.stdout.strip()


def wait_for(
    check: Callable[[], bool], what: str, timeout: float = 90, log: Lines | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        said = "".join(log.lines[-20:]) if log is not None else ""
        assert time.monotonic() < deadline, f"timed out waiting for {what}: {said}"
        time.sleep(0.2)


class Lines:
    """A process's stderr, collected line by line as it comes."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        assert process.stderr is not None
        stream = process.stderr
        self.thread = threading.Thread(target=lambda: self.lines.extend(stream), daemon=True)
        self.thread.start()

    def count(self, text: str) -> int:
        return sum(text in line for line in list(self.lines))


@pytest.fixture
def own_postgres(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A PostgreSQL of this test's own: its URL, and its state folder."""
    state = tmp_path / "pg-state"
    url = script("pg-start", WRAPPED_PG_STATE=str(state))
    yield url, state
    script("pg-stop", WRAPPED_PG_STATE=str(state))


def stop_postgres(state: Path) -> None:
    """A fast shutdown, its data kept: `pg-start` brings it back on the same port."""
    datadir = Path((state / "datadir").read_text().strip())
    pid = int((datadir / "postmaster.pid").read_text().split()[0])
    os.kill(pid, signal.SIGINT)
    wait_for(lambda: not (datadir / "postmaster.pid").exists(), "PostgreSQL to stop")


def test_postgresql_down_commits_no_offset_and_the_consumer_resumes_when_it_returns(
    own_postgres: tuple[str, Path], topics: Topics, tmp_path: Path
) -> None:
    url, state = own_postgres
    engine = db.connect(url)
    db.upgrade(engine)
    user = add_user(engine)
    settings = topics.settings(engine, tmp_path, batch_size=50)
    plays = list(generate_plays(user, weeks=4, seed=11, timezone="UTC"))
    assert len(plays) >= 200
    before, during = plays[:100], plays[100:200]
    bus = KafkaBus(settings)
    consumer = start_consumer(settings)
    log = Lines(consumer)
    try:
        acknowledged(bus.publish(before), len(before))
        wait_for(lambda: count_plays(engine) == 100, "the first plays")
        wait_for(lambda: committed(settings) == 100, "their offsets")

        engine.dispose()
        stop_postgres(state)
        acknowledged(bus.publish(during), len(during))
        wait_for(lambda: log.count("not written") >= 2, "the consumer to retry")
        assert committed(settings) == 100, "no offset moves past plays not written"

        script("pg-start", WRAPPED_PG_STATE=str(state))
        wait_for(lambda: count_plays(engine) == 200, "the plays written after the outage", log=log)
        wait_for(lambda: committed(settings) == 200, "their offsets")
    finally:
        consumer.send_signal(signal.SIGTERM)
        code = consumer.wait(timeout=60)
    assert code == 0, "".join(log.lines)
    log.thread.join(timeout=5)
    assert log.count("Stopping after the batch in hand") == 1


@pytest.fixture
def own_kafka(tmp_path: Path) -> Iterator[Path]:
    """A broker of this test's own, to restart: its state folder."""
    state = tmp_path / "kafka-state"
    script("kafka-start", WRAPPED_KAFKA_STATE=str(state))
    yield state
    script("kafka-stop", WRAPPED_KAFKA_STATE=str(state))


def test_a_broker_restart_while_producing_loses_no_acknowledged_play(
    own_kafka: Path, database_factory: Callable[[str], Engine], tmp_path: Path
) -> None:
    bootstrap = (own_kafka / "bootstrap").read_text().strip()
    engine = database_factory("postgresql")
    user = add_user(engine)
    settings = load_settings(
        data_dir=tmp_path,
        database_url=engine.url.render_as_string(hide_password=False),
        bus="kafka",
        kafka_bootstrap=bootstrap,
        kafka_partitions=2,
        kafka_poll_timeout_s=0.5,
    )
    plays = list(generate_plays(user, weeks=2, seed=13, timezone="UTC"))
    bus = KafkaBus(settings)
    acknowledged_ids: list[str] = []
    restarted = threading.Event()

    def produce() -> None:
        for start in range(0, len(plays), 25):
            batch: list[PlayEvent] = plays[start : start + 25]
            if bus.publish(batch).accepted == len(batch):
                acknowledged_ids.extend(e.event_id for e in batch)
            if start == 100:
                restarted.wait(timeout=120)

    producer = threading.Thread(target=produce)
    producer.start()
    wait_for(lambda: len(acknowledged_ids) >= 50, "the first deliveries")
    os.kill(int((own_kafka / "pid").read_text()), signal.SIGKILL)
    time.sleep(1)
    script("kafka-start", WRAPPED_KAFKA_STATE=str(own_kafka))
    restarted.set()
    producer.join(timeout=300)
    assert len(acknowledged_ids) == len(plays), "every play delivered once the broker was back"

    consumer = start_consumer(settings, "--until-idle")
    _, errors = consumer.communicate(timeout=300)
    assert consumer.returncode == 0, errors
    assert set(acknowledged_ids) <= set(play_ids(engine))

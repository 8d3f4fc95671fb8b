"""`wrapped process --engine spark` killed mid-stream starts again from its checkpoint.

The driver (and its JVM, and its Python workers) die with SIGKILL while batches are
being written; the next run re-reads what the checkpoint had not committed, and the
warehouse ends with exactly the distinct events. A SIGTERM stops it cleanly.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.cli import WRAPPED
from tests.integration.kafka.conftest import Topics, add_user, count_plays, env_of, play_ids
from tests.integration.spark.conftest import spark_settings
from weekly_wrapped.bus.kafka import KafkaBus
from weekly_wrapped.config import Settings
from weekly_wrapped.sources.synthetic import generate_plays

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.xdist_group("spark")]


def start_job(settings: Settings, *args: str) -> subprocess.Popen[str]:
    """The Spark job as `wrapped process`, in a process group of its own (driver, JVM, workers)."""
    names = [
        "engine",
        "spark_checkpoint",
        "spark_max_offsets_per_trigger",
        "spark_trigger_s",
        "spark_jars",
    ]
    spark = {f"WRAPPED_{n.upper()}": str(getattr(settings, n)) for n in names}
    return subprocess.Popen(
        [*WRAPPED, "process", "--bus", "kafka", "--engine", "spark", *args],
        env={**os.environ, **env_of(settings), **spark, "WRAPPED_LOG_LEVEL": "INFO"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def wait_for_plays(engine: Engine, more_than: int, job: subprocess.Popen[str]) -> int:
    """Wait until the warehouse holds more than `more_than` plays; how many it holds."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        found = count_plays(engine)
        if found > more_than:
            return found
        assert job.poll() is None, job.communicate()[1][-3000:]
        time.sleep(0.2)
    raise AssertionError("the job wrote nothing within 300 s")


def test_a_killed_job_resumes_from_its_checkpoint_and_writes_each_event_once(
    database_factory: Callable[[str], Engine], topics: Topics, tmp_path: Path, spark_jars: str
) -> None:
    engine = database_factory("postgresql")
    add_user(engine)
    settings = spark_settings(
        topics, engine, tmp_path, spark_max_offsets_per_trigger=1_500, spark_jars=spark_jars
    )
    events = list(generate_plays(1, weeks=60, seed=7, end=datetime(2026, 11, 30, tzinfo=UTC)))
    assert len(events) > 6_000
    assert KafkaBus(settings).publish(events).accepted == len(events)

    killed = start_job(settings)
    written = wait_for_plays(engine, 0, killed)
    os.killpg(killed.pid, signal.SIGKILL)
    killed.wait(30)
    assert written < len(events), "killed mid-stream"

    stopped = start_job(settings)
    wait_for_plays(engine, count_plays(engine), stopped)
    stopped.send_signal(signal.SIGTERM)  # `kill PID`: the driver finishes its batch first
    out, err = stopped.communicate(timeout=120)
    assert stopped.returncode == 0, err[-3000:]
    assert "Stopping after the batch in hand" in err
    assert "Read " in out

    finished = start_job(settings, "--until-idle")
    out, err = finished.communicate(timeout=600)
    assert finished.returncode == 0, err[-3000:]
    assert play_ids(engine) == sorted(e.event_id for e in events)

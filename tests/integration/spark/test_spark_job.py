"""The Spark engine against real Kafka and PostgreSQL: the same warehouse as the embedded one.

Every test here runs the job in this process on the module's Spark session (one JVM
for the module); the crash test in test_spark_crash.py runs it as `wrapped process`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from tests.factories import play
from tests.integration.kafka.conftest import Topics, add_user, play_ids
from tests.integration.spark.conftest import produce, rows, spark_settings
from weekly_wrapped import identity
from weekly_wrapped.bus.kafka import KafkaBus
from weekly_wrapped.events import PlayEvent
from weekly_wrapped.processing.embedded import EmbeddedProcessor
from weekly_wrapped.processing.spark_job import SparkStream
from weekly_wrapped.sources.synthetic import generate_plays
from weekly_wrapped.warehouse.schema import quarantine

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.xdist_group("spark")]

PLAY_V1 = {"schema": b"play.v1"}


@pytest.fixture
def postgres(database_factory: Callable[[str], Engine]) -> Callable[[], Engine]:
    return lambda: database_factory("postgresql")


def listening() -> list[PlayEvent]:
    """About 50k plays of three listeners; Ada's last weeks both polled and exported."""
    end = datetime(2026, 11, 30, tzinfo=UTC)
    ada = list(generate_plays(1, weeks=125, seed=1, end=end))
    ada_api = list(generate_plays(1, weeks=6, seed=1, end=end, source="api"))
    ada_export = [as_exported(e) for e in ada_api[::2]]
    ben = list(generate_plays(2, weeks=170, seed=2, end=end, timezone="America/New_York"))
    cy = list(generate_plays(3, weeks=60, seed=3, end=end, source="api"))
    return [*ada, *ada_api, *ada_export, *ben, *cy]


def as_exported(event: PlayEvent) -> PlayEvent:
    """The same listen as the privacy export reports it: its own source, id and `ms_played`."""
    song = identity.song_key(event.track.artists[0].name, event.track.name)
    ms_played = event.track.duration_ms or 180_000
    return event.model_copy(
        update={
            "source": "export_extended",
            "ms_played": ms_played,
            "event_id": identity.event_id(
                event.user_id, "export_extended", event.played_at, song, ms_played, 0
            ),
        }
    )


BAD = [
    b"not json at all",
    b'{"schema": "play.v1", "event_id": "x"}',
    json.dumps({"schema": "play.v2", "user_id": 1}).encode(),
]


def users(engine: Engine) -> None:
    for name in ("Ada", "Ben", "Cy"):
        add_user(engine, name)


def test_the_spark_engine_writes_exactly_what_the_embedded_engine_writes(
    spark: Any, postgres: Callable[[], Engine], topics: Topics, tmp_path: Path
) -> None:
    events = listening()
    assert 45_000 < len(events) < 60_000
    messages = [e.to_json() for e in events] + BAD

    embedded = postgres()
    users(embedded)
    EmbeddedProcessor(embedded).process(messages)

    engine = postgres()
    users(engine)
    settings = spark_settings(topics, engine, tmp_path)
    assert KafkaBus(settings).publish(events).accepted == len(events)
    produce(settings, [(b"1", bad, PLAY_V1) for bad in BAD])

    report = SparkStream(settings).run(until_idle=True)

    assert report.messages == len(messages)
    assert report.batches >= 3, "maxOffsetsPerTrigger splits the backlog into batches"
    assert report.written.quarantined == len(BAD)
    expected = rows(embedded)
    assert len(expected["fact_play_merged"]) > 250, "the API plays merged with the export's"
    found = rows(engine)
    for table, table_rows in expected.items():
        assert set(found[table]) ^ set(table_rows) == set(), table


def test_old_plays_land_and_repeats_land_once_within_and_beyond_the_window(
    spark: Any, postgres: Callable[[], Engine], topics: Topics, tmp_path: Path
) -> None:
    engine = postgres()
    add_user(engine)
    settings = spark_settings(topics, engine, tmp_path, spark_dedupe_window_s=60)
    old = [
        play(1, datetime(2012, 3, 4, 20, 0, tzinfo=UTC) + timedelta(minutes=5 * i))
        for i in range(300)
    ]
    once = [(b"1", e.to_json(), PLAY_V1) for e in old]

    # Each play twice in one batch: the job's dedupe drops the second.
    produce(settings, once + once)
    first = SparkStream(settings).run(until_idle=True)
    assert first.messages == len(old), "repeats within the window never reach the warehouse"
    assert len(play_ids(engine)) == len(old)

    # Records stamped years ago by their producer (a replay, a clock far behind) are not
    # late: they all land. Their repeats still land once.
    stamped = [play(1, datetime(2013, 1, 1, tzinfo=UTC) + timedelta(hours=i)) for i in range(200)]
    long_ago = int(datetime(2015, 6, 1, tzinfo=UTC).timestamp() * 1000)
    produce(settings, [(b"1", e.to_json(), PLAY_V1) for e in stamped], timestamp_ms=long_ago)
    produce(settings, once[:50], timestamp_ms=long_ago)
    second = SparkStream(settings).run(until_idle=True)

    assert second.written.inserted == len(stamped)
    assert sorted(play_ids(engine)) == sorted(e.event_id for e in [*old, *stamped])
    assert second.written.duplicates + (250 - second.messages) == 50, (
        "each repeat from beyond the window is dropped by the job or by the warehouse's key"
    )


def test_bad_messages_are_quarantined_with_their_reason_and_the_stream_goes_on(
    spark: Any, postgres: Callable[[], Engine], topics: Topics, tmp_path: Path
) -> None:
    engine = postgres()
    add_user(engine)
    settings = spark_settings(topics, engine, tmp_path)
    now = datetime.now(UTC).replace(microsecond=0)
    good = [play(1, now - timedelta(hours=i + 1)) for i in range(20)]
    future = play(1, now + timedelta(days=3), title="Tomorrow")
    stranger = play(99, now - timedelta(hours=2), title="Whose")
    produce(
        settings,
        [
            (b"1", good[0].to_json(), PLAY_V1),
            (b"1", b"\xff\xfe not utf-8", PLAY_V1),
            (b"1", b'{"schema": "play.v1", "user_id": "one"}', PLAY_V1),
            (b"1", future.to_json(), PLAY_V1),
            (b"99", stranger.to_json(), PLAY_V1),
            (b"1", good[1].to_json(), {"schema": b"play.v9"}),
            (None, good[2].to_json(), {}),  # kcat sends no key and no header: still a play
        ],
    )
    first = SparkStream(settings).run(until_idle=True)
    assert first.written.inserted == 2
    with engine.connect() as conn:
        reasons = conn.execute(select(quarantine.c.reason)).scalars().all()
    joined = "\n".join(reasons)
    assert len(reasons) == 5, joined
    assert "invalid PlayEvent" in joined
    assert "unknown user_id 99" in joined
    assert "in the future" in joined
    assert "unknown schema header 'play.v9'" in joined

    produce(settings, [(b"1", e.to_json(), PLAY_V1) for e in good[3:]])
    second = SparkStream(settings).run(until_idle=True)
    assert second.written.inserted == len(good) - 3
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(quarantine)).scalar_one() == 5

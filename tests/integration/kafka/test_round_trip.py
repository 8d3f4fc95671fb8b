"""Sources publish to Kafka and `wrapped process` writes what they published: exact counts.

The same export imported through the local bus into another warehouse is the yardstick.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from tests.integration.kafka.conftest import Topics, add_user, play_ids, wrapped
from tests.integration.test_bus import history_file, rows_read  # noqa: F401 - a fixture
from weekly_wrapped.bus import BusRefused
from weekly_wrapped.bus.factory import local_bus, open_bus
from weekly_wrapped.bus.kafka import KafkaBus
from weekly_wrapped.imports import import_export

pytestmark = pytest.mark.postgres

EXPORT = Path(__file__).resolve().parents[2] / "fixtures" / "exports" / "my_spotify_data"


@pytest.fixture
def postgres(database_factory: Callable[[str], Engine]) -> Callable[[], Engine]:
    return lambda: database_factory("postgresql")


def test_an_import_through_kafka_lands_exactly_as_through_the_local_bus(
    postgres: Callable[[], Engine], topics: Topics, tmp_path: Path
) -> None:
    yardstick = postgres()
    import_export(yardstick, add_user(yardstick), [EXPORT], bus=local_bus(yardstick))
    expected = play_ids(yardstick)

    engine = postgres()
    add_user(engine)
    settings = topics.settings(engine, tmp_path)
    imported = wrapped("import", str(EXPORT), "--user", "1", settings=settings)
    assert imported.returncode == 0, imported.stderr
    assert play_ids(engine) == [], "published, not yet written"

    processed = wrapped("process", "--bus", "kafka", "--until-idle", settings=settings)
    assert processed.returncode == 0, processed.stderr
    assert len(expected) > 100
    assert play_ids(engine) == expected
    assert "batch: " in processed.stderr and " rejected, lag " in processed.stderr

    again = wrapped("import", str(EXPORT), "--user", "1", settings=settings)
    assert again.returncode == 0, again.stderr
    assert wrapped("process", "--until-idle", settings=settings).returncode == 0
    assert play_ids(engine) == expected, "importing again adds nothing"


def test_generated_plays_land_once_each(
    postgres: Callable[[], Engine], topics: Topics, tmp_path: Path
) -> None:
    engine = postgres()
    add_user(engine)
    settings = topics.settings(engine, tmp_path, batch_size=100)
    generated = wrapped("generate", "--user", "1", "--weeks", "2", "--seed", "3", settings=settings)
    assert generated.returncode == 0, generated.stderr
    published = int(generated.stdout.split()[1].replace(",", ""))
    assert published > 100
    # Twice: a replayed topic (or a re-run source) changes nothing.
    assert wrapped("process", "--until-idle", settings=settings).returncode == 0
    assert len(play_ids(engine)) == published
    assert (
        wrapped(
            "generate", "--user", "1", "--weeks", "2", "--seed", "3", settings=settings
        ).returncode
        == 0
    )
    assert wrapped("process", "--until-idle", settings=settings).returncode == 0
    assert len(play_ids(engine)) == published


def test_an_import_moves_its_progress_only_past_delivered_plays(
    postgres: Callable[[], Engine],
    topics: Topics,
    tmp_path: Path,
    history_file: Path,  # noqa: F811
) -> None:
    engine = postgres()
    user = add_user(engine)
    settings = topics.settings(engine, tmp_path, kafka_delivery_timeout_s=2)
    bus = open_bus(engine, settings)
    assert isinstance(bus, KafkaBus)
    topics.delete()  # the topic goes away under the producer: nothing can be delivered
    options: dict[str, Any] = {"batch_size": 16, "commit_rows": 40}
    with pytest.raises(BusRefused, match="accepted 0 of 16 plays"):
        import_export(engine, user, [history_file], bus=bus, **options)
    assert rows_read(engine) == ("running", 0), "no progress past undelivered plays"

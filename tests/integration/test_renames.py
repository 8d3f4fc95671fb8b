"""Spotify renames artists and titles under one track id; every play keeps its own names.

The `renamed` fixtures hold real renames ("Lady Antebellum" → "Lady A", the duo
"Macklemore & Ryan Lewis" → "Macklemore", "Can't Hold Us" → "Can't Hold Us (feat.
Ray Dalton)") inside one yearly file, with the account-format twins of a year of it,
and a second listener who only heard the new names of the same track ids.
"""

from __future__ import annotations

import gzip
import json
import shutil
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Engine, MetaData, column, func, select, text
from sqlalchemy.pool import NullPool

from tests.cli import run_wrapped, warehouse_env
from tests.factories import snapshot
from weekly_wrapped.imports import import_export
from weekly_wrapped.insights.models import ListeningStats
from weekly_wrapped.insights.stats import weekly_stats
from weekly_wrapped.warehouse import db, users
from weekly_wrapped.warehouse.schema import dim_spelling, fact_play, fact_play_merged

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
RENAMED = FIXTURES / "exports" / "renamed"
ADA = RENAMED / "ada"
BEN = RENAMED / "ben"
EXTENDED = ADA / "Spotify Extended Streaming History"
ADA_FILES = [
    EXTENDED / "Streaming_History_Audio_2019_0.json",
    EXTENDED / "Streaming_History_Audio_2020_1.json",
    EXTENDED / "Streaming_History_Audio_2021_2.json",
    ADA / "Spotify Account Data" / "StreamingHistory_music_0.json",
]
OLD_WAREHOUSE = FIXTURES / "warehouse" / "renamed-0007.sqlite.gz"
"""What release 0.1 (schema 0007) wrote importing `ada/` then `ben/`, kept as it was."""

AFTER_LADY_A = date(2020, 7, 20)  # 2020-W30: Lady A, still Macklemore & Ryan Lewis
AFTER_BOTH = date(2020, 10, 5)  # 2020-W41: Lady A and Macklemore, feat. titles
RENAME_WEEK = date(2020, 6, 8)  # 2020-W24: Lady Antebellum until Thursday, then Lady A


def add_people(engine: Engine) -> tuple[int, int]:
    with engine.begin() as conn:
        ada = users.add_user(conn, name="Ada", timezone="Europe/Berlin")
        ben = users.add_user(conn, name="Ben", timezone="America/Chicago")
    return ada, ben


def weeks_of_2020() -> list[date]:
    first = date(2019, 12, 30)
    return [first + timedelta(weeks=n) for n in range(53)]


def all_stats(engine: Engine, user_key: int, weeks: list[date]) -> dict[date, dict[str, Any]]:
    with engine.connect() as conn:
        return {
            week: weekly_stats(conn, user_key, week).model_dump(mode="json", exclude={"week"})
            for week in weeks
        }


def week(engine: Engine, user_key: int, monday: date) -> ListeningStats:
    with engine.connect() as conn:
        return weekly_stats(conn, user_key, monday)


def facts(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    return snapshot(engine, (fact_play, fact_play_merged, dim_spelling))


def test_plays_are_named_as_they_were_played(engine: Engine) -> None:
    ada, _ = add_people(engine)
    summary = import_export(engine, ada, [ADA])
    # Every account-format play finds its extended twin: stored once, counted once.
    account_rows = 1318
    assert summary.merged == account_rows
    assert summary.plays_added == summary.rows_read - account_rows

    after = week(engine, ada, AFTER_LADY_A)
    artists = [a.name for a in after.top_artists]
    assert "Lady A" in artists and "Lady Antebellum" not in artists
    assert "Macklemore & Ryan Lewis" in artists and "Macklemore" not in artists
    songs = [(t.name, t.artist) for t in after.top_tracks]
    assert len(songs) == len(set(songs)), "a song is listed once"
    assert all(artist != "Lady Antebellum" for _, artist in songs)

    later = week(engine, ada, AFTER_BOTH)
    everything = [(t.name, t.artist) for t in [*later.top_tracks, *later.new_tracks]]
    assert ("Can't Hold Us (feat. Ray Dalton)", "Macklemore") in everything or (
        "Downtown (feat. Eric Nally, Melle Mel, Kool Moe Dee & Grandmaster Caz)",
        "Macklemore",
    ) in everything
    assert all(artist != "Macklemore & Ryan Lewis" for _, artist in everything)
    # The new names are new to Ada in the week they first came up, never before.
    assert "Macklemore" not in [a.name for a in week(engine, ada, AFTER_LADY_A).new_artists]


def test_the_week_of_a_rename_counts_both_names_as_played(engine: Engine) -> None:
    ada, _ = add_people(engine)
    import_export(engine, ada, [ADA])
    stats = week(engine, ada, RENAME_WEEK)
    with engine.connect() as conn:
        # The ground truth, straight from the plays' own spellings.
        by_name = Counter(
            dict(
                conn.execute(
                    select(dim_spelling.c.artist_name, func.sum(fact_play.c.ms_played))
                    .join(dim_spelling, dim_spelling.c.spelling_key == fact_play.c.spelling_key)
                    .where(
                        fact_play.c.user_key == ada,
                        fact_play.c.local_date_key >= 20200608,
                        fact_play.c.local_date_key < 20200615,
                    )
                    .group_by(dim_spelling.c.artist_name)
                ).all()
            )
        )
    shown = {a.name: a.minutes for a in stats.top_artists}
    for name in ("Lady A", "Lady Antebellum"):
        assert shown[name] == round(int(by_name[name]) / 60_000, 1)


@pytest.mark.parametrize("batch_size", [1, 7, 5000, 1_000_000])
def test_facts_and_stats_do_not_depend_on_batch_size_or_file_order(
    batch_size: int, database_factory: Callable[[str], Engine]
) -> None:
    reference = database_factory("sqlite")
    ada, ben = add_people(reference)
    import_export(reference, ada, ADA_FILES)
    import_export(reference, ben, [BEN])

    engine = database_factory("sqlite")
    add_people(engine)
    # Another order each run: the account file first, the years backwards, Ben first.
    turn = [1, 7, 5000, 1_000_000].index(batch_size) + 1
    order = [*ADA_FILES[turn:], *ADA_FILES[:turn]][::-1]
    import_export(engine, ben, [BEN], batch_size=batch_size)
    for path in order:
        import_export(engine, ada, [path], batch_size=batch_size)

    assert facts(engine) == facts(reference)
    for user_key in (ada, ben):
        assert all_stats(engine, user_key, weeks_of_2020()) == all_stats(
            reference, user_key, weeks_of_2020()
        )


def test_another_listener_never_changes_your_recap(
    backend: str, database_factory: Callable[[str], Engine]
) -> None:
    together = database_factory(backend)
    ada, ben = add_people(together)
    import_export(together, ada, [ADA])
    import_export(together, ben, [BEN])

    for user_key, export in ((ada, ADA), (ben, BEN)):
        alone = database_factory(backend)
        add_people(alone)
        import_export(alone, user_key, [export])
        assert all_stats(together, user_key, weeks_of_2020()) == all_stats(
            alone, user_key, weeks_of_2020()
        )


def _old_warehouse(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Engine:
    """The warehouse release 0.1 wrote, on `backend`, at schema revision 0007."""
    old_file = tmp_path / "old.db"
    with gzip.open(OLD_WAREHOUSE) as packed, old_file.open("wb") as unpacked:
        shutil.copyfileobj(packed, unpacked)
    old = db.connect(f"sqlite:///{old_file}", poolclass=NullPool)
    if backend == "sqlite":
        return old
    # The same rows, in a PostgreSQL warehouse that release 0.1 built (revision 0007).
    databases = request.getfixturevalue("postgres_databases")
    name = f"wrapped_old_{uuid.uuid4().hex[:12]}"
    with databases.admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    databases.created.append(name)
    engine = db.connect(f"{databases.base}/{name}", poolclass=NullPool)
    command.upgrade(db._alembic_config(engine), "0007")
    _copy_rows(old, engine)
    old.dispose()
    return engine


def _copy_rows(source: Engine, target: Engine) -> None:
    tables = MetaData()
    tables.reflect(target)
    with source.connect() as read, target.begin() as write:
        for table in tables.sorted_tables:
            if table.name == "alembic_version":
                continue
            rows = [
                {k: _aware(v) for k, v in row._mapping.items()}
                for row in read.execute(
                    select(*(column(c.name) for c in table.columns)).select_from(text(table.name))
                )
            ]
            if rows:
                write.execute(table.insert(), rows)


def _aware(value: Any) -> Any:
    """SQLite keeps naive UTC; PostgreSQL's timestamptz must be told it is UTC."""
    if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and value[10] == " ":
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    return value


def test_an_upgraded_warehouse_gives_the_stats_of_a_fresh_import(
    backend: str,
    tmp_path: Path,
    database_factory: Callable[[str], Engine],
    request: pytest.FixtureRequest,
) -> None:
    old = _old_warehouse(backend, tmp_path, request)
    with old.connect() as conn:
        before = conn.exec_driver_sql("SELECT count(*) FROM fact_play").scalar_one()
    db.upgrade(old)
    db.upgrade(old)  # idempotent: a second run finds nothing to do

    fresh = database_factory(backend)
    ada, ben = add_people(fresh)
    import_export(fresh, ada, [ADA])
    import_export(fresh, ben, [BEN])

    assert facts(old) == facts(fresh)
    with old.connect() as conn:
        after = conn.exec_driver_sql("SELECT count(*) FROM fact_play").scalar_one()
    assert after < before, "account plays counted twice by 0.1 are now stored once"
    for user_key in (ada, ben):
        assert all_stats(old, user_key, weeks_of_2020()) == all_stats(
            fresh, user_key, weeks_of_2020()
        )
    old.dispose()


def test_recap_shows_the_names_as_played(tmp_path: Path) -> None:
    engine = db.connect(f"sqlite:///{tmp_path / 'wrapped.db'}")
    db.upgrade(engine)
    ada, _ = add_people(engine)
    import_export(engine, ada, [ADA])
    env = warehouse_env(engine, tmp_path / "data")

    result = run_wrapped("recap", "--user", str(ada), "--week", "2020-W30", env=env)
    assert result.returncode == 0, result.stderr
    assert "Lady A" in result.stdout
    assert "Lady Antebellum" not in result.stdout
    assert "Macklemore & Ryan Lewis" in result.stdout

    result = run_wrapped(
        "recap", "--user", str(ada), "--week", "2020-W41", "--format", "json", env=env
    )
    assert result.returncode == 0, result.stderr
    stats = json.loads(result.stdout)["stats"]
    artists = [a["name"] for a in stats["top_artists"]]
    assert "Macklemore" in artists and "Macklemore & Ryan Lewis" not in artists
    engine.dispose()

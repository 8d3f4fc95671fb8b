"""Dates at the ends of the calendar: bad rows go to quarantine, good ones import, stats answer."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select, update

from tests.cli import run_wrapped, warehouse_env
from tests.conftest import BACKENDS
from tests.factories import extended_row as export_row
from tests.factories import play
from weekly_wrapped.imports import REFUSED, import_export
from weekly_wrapped.insights.stats import first_listening_day, range_stats, weekly_stats
from weekly_wrapped.processing.embedded import EmbeddedProcessor
from weekly_wrapped.warehouse import users
from weekly_wrapped.warehouse.schema import fact_play, import_job, quarantine

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "exports"
SPOTIFY_BEGAN = datetime(2006, 1, 1, tzinfo=UTC)
ZONES = [
    "Europe/Berlin",
    "America/New_York",
    "Pacific/Kiritimati",  # UTC+14
    "Pacific/Pago_Pago",  # UTC-11
    "Australia/Lord_Howe",  # a half-hour DST shift
]
EDGES = [
    datetime(1, 1, 1),
    datetime(1, 1, 2),
    datetime(2005, 12, 31, 23, 59, 59),
    datetime(2006, 1, 1),
    datetime(2026, 3, 29, 1, 0),  # Berlin springs forward
    datetime(2026, 10, 25, 0, 59, 59),  # Berlin falls back
    datetime(2026, 3, 8, 7, 0),  # New York springs forward
    datetime(2026, 4, 4, 15, 0),  # Lord Howe falls back half an hour
    datetime(9999, 12, 31, 23, 59, 59),
]
OFFSETS = ["Z", "Z", "+14:00", "-12:00"]


def add_user(engine: Engine, timezone: str = "Europe/Berlin") -> int:
    with engine.begin() as conn:
        return users.add_user(conn, name="Ada", timezone=timezone)


def extended_row(ts: str, ms_played: int, title: str = "Harbour Lights") -> dict[str, Any]:
    """A row of Spotify's extended streaming history."""
    return export_row(ts, ms_played, title=title)


def stamp(at: datetime, offset: str = "Z") -> str:
    """`ts` as Spotify writes it (``2023-01-05T14:03:27Z``), with another offset if asked."""
    return at.replace(microsecond=0).isoformat() + offset


def count(engine: Engine, table: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def every_stats_reading(engine: Engine, user: int, days: list[date]) -> None:
    """All-time stats, and the week of each day, as `wrapped stats` and `recap` read them."""
    today = datetime.now(UTC).date()
    with engine.connect() as conn:
        first = first_listening_day(conn, user) or today
        range_stats(conn, user, first, today + timedelta(days=2))
        for day in {date.min, first, *days}:
            weekly_stats(conn, user, day - timedelta(days=day.weekday()))


def test_a_row_from_year_1_is_refused_and_the_files_beside_it_import(
    backend: str, database_factory: Callable[[str], Engine], tmp_path: Path
) -> None:
    engine = database_factory(backend)
    user = add_user(engine, "America/New_York")
    export = tmp_path / "export"
    shutil.copytree(FIXTURES / "my_spotify_data", export)
    odd = [
        extended_row("0001-01-01T00:00:00Z", 200_000),
        extended_row("0001-01-02T00:00:00Z", 200_000),
        extended_row("2023-05-01T10:00:00Z", 200_000, title="Kite"),
    ]
    (export / "Streaming_History_Audio_2000_0.json").write_text(json.dumps(odd))
    env = warehouse_env(engine, tmp_path)
    imported = run_wrapped("import", str(export), "--user", str(user), env=env)
    assert imported.returncode == 0, imported.stderr
    lines = [" ".join(line.split()) for line in imported.stdout.splitlines()]
    assert "Imported 6 of 6 history files · job 1" in lines
    assert "Plays from 2022-11-02 to 2023-08-18" in lines
    assert "plays added 193" in lines, "the fixture's 192 plays and Kite"
    assert f"2 {REFUSED}" in lines
    with engine.connect() as conn:
        job = conn.execute(select(import_job)).one()
        reasons = conn.execute(select(quarantine.c.reason)).scalars().all()
    assert job.status == "done"
    assert sorted(reasons) == [
        "played_at 0001-01-01T00:00:00+00:00 is before 2006, when Spotify began",
        "played_at 0001-01-02T00:00:00+00:00 is before 2006, when Spotify began",
    ]
    again = run_wrapped("import", str(export), "--user", str(user), env=env)
    assert again.returncode == 0 and "plays added 0" in " ".join(again.stdout.split())
    stats = run_wrapped("stats", "--user", str(user), env=env)
    assert stats.returncode == 0, stats.stderr
    assert stats.stdout.splitlines()[0].startswith("Ada · 02 Nov 2022 – ")


def test_stats_answer_over_a_play_an_older_version_stored_from_year_1(
    backend: str, database_factory: Callable[[str], Engine], tmp_path: Path
) -> None:
    engine = database_factory(backend)
    user = add_user(engine, "Asia/Tokyo")
    at = datetime(2023, 5, 1, 10, 0, tzinfo=UTC)
    EmbeddedProcessor(engine).process([play(user, at), play(user, at + timedelta(days=1))])
    with engine.begin() as conn:  # what importing year-1 rows left behind before they were refused
        first_id = conn.execute(select(func.min(fact_play.c.play_id))).scalar_one()
        conn.execute(
            update(fact_play)
            .where(fact_play.c.play_id == first_id)
            .values(played_at_utc=datetime(1, 1, 1, 0, 30, tzinfo=UTC), local_date_key=10101)
        )
    every_stats_reading(engine, user, [at.date()])
    with engine.connect() as conn:
        week_one = weekly_stats(conn, user, date.min)
    assert (week_one.plays, week_one.streak_days) == (1, 1)
    result = run_wrapped("stats", "--user", str(user), env=warehouse_env(engine, tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0].startswith("Ada · 01 Jan 1 – ")


@pytest.mark.parametrize("backend", BACKENDS)
@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    zone=st.sampled_from(ZONES),
    moments=st.lists(
        st.tuples(
            st.one_of(
                st.sampled_from(EDGES),
                st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)),
            ),
            st.sampled_from(OFFSETS),
        ),
        min_size=1,
        max_size=12,
    ),
)
@example(
    zone="Pacific/Kiritimati",
    moments=[(EDGES[0], "+14:00"), (EDGES[0], "Z"), (EDGES[3], "Z"), (EDGES[-1], "-12:00")],
)
def test_any_date_imports_or_is_refused_and_stats_always_answer(
    database_factory: Callable[[str], Engine],
    backend: str,
    tmp_path_factory: pytest.TempPathFactory,
    zone: str,
    moments: list[tuple[datetime, str]],
) -> None:
    engine = database_factory(backend)
    user = add_user(engine, zone)
    folder = tmp_path_factory.mktemp("export")
    rows = [extended_row(stamp(at, offset), 60_000 + i) for i, (at, offset) in enumerate(moments)]
    (folder / "Streaming_History_Audio_2024_0.json").write_text(json.dumps(rows))
    good = [extended_row("2023-05-01T10:00:00Z", 200_000, title="Kite")]
    (folder / "Streaming_History_Audio_2023_0.json").write_text(json.dumps(good))

    summary = import_export(engine, user, [folder])

    readable = [at for row in rows if (at := _utc(row["ts"])) is not None]
    latest = datetime.now(UTC) + timedelta(minutes=5)
    plausible = [at for at in readable if SPOTIFY_BEGAN <= at <= latest]
    assert summary.failed == []
    assert summary.plays_added == count(engine, fact_play) == len(plausible) + 1
    assert count(engine, quarantine) == len(rows) - len(plausible)
    assert summary.skipped[REFUSED] == len(readable) - len(plausible)
    every_stats_reading(engine, user, [at.date() for at in plausible])


def _utc(ts: str) -> datetime | None:
    """The instant a `ts` names, or None when it lies outside the calendar in UTC."""
    try:
        return datetime.fromisoformat(ts).astimezone(UTC)
    except OverflowError:
        return None

"""The poller end to end against the fake Spotify: nothing lost, gaps admitted, cursors honest."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, func, select

from tests.fakes.spotify import FakeSpotify, ManualClock
from tests.fakes.spotify.harness import log_in, spotify_settings
from weekly_wrapped.bus import Ack
from weekly_wrapped.config import Settings
from weekly_wrapped.errors import TransientError
from weekly_wrapped.events import PlayEvent
from weekly_wrapped.sources.spotify.poller import Poller
from weekly_wrapped.warehouse.queries import as_utc
from weekly_wrapped.warehouse.schema import (
    coverage_gap,
    dim_album,
    dim_artist,
    dim_track,
    fact_play,
    ingest_cursor,
    quarantine,
)

DAY = datetime(2026, 11, 16, tzinfo=UTC)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(DAY)


@pytest.fixture
def settings(fake: FakeSpotify, engine: Engine, tmp_path: Path) -> Settings:
    return spotify_settings(fake, engine, tmp_path)


def count(engine: Engine, table: object) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def listen(fake: FakeSpotify, user: str, times: Iterable[datetime], offset: int = 0) -> None:
    tracks = fake.catalog.track_list()
    for n, when in enumerate(times):
        fake.listen(user, tracks[(offset + n * 7) % len(tracks)].id, when)


def test_login_poll_and_the_warehouse_hold_exactly_what_spotify_served(
    engine: Engine, settings: Settings, fake: FakeSpotify, clock: ManualClock
) -> None:
    log_in(engine, settings, fake, "ada.l", clock=clock)
    listen(fake, "ada.l", (DAY - timedelta(minutes=3 * n) for n in range(45)))
    tracks = fake.catalog.track_list()
    for n in range(5):  # songs on repeat: more plays than tracks
        fake.listen("ada.l", tracks[0].id, DAY - timedelta(hours=3, minutes=4 * n))

    report = Poller(engine, settings, clock=clock).poll()
    [outcome] = report.outcomes

    served = fake.listeners["ada.l"].plays
    served_tracks = {p.track_id for p in served}
    catalog = fake.catalog
    assert (outcome.status, outcome.plays, report.stored.inserted) == ("ok", 50, 50)
    assert count(engine, fact_play) == len(served) == 50
    assert count(engine, dim_track) == len(served_tracks)
    assert count(engine, dim_artist) == len(
        {a for t in served_tracks for a in catalog.tracks[t].artist_ids}
    )
    assert count(engine, dim_album) == len({catalog.tracks[t].album_id for t in served_tracks})
    with engine.connect() as conn:
        cursor = conn.execute(select(ingest_cursor.c.last_played_at)).scalar_one()
        estimated = conn.execute(
            select(func.count()).where(fact_play.c.ms_played_estimated.is_(True))
        ).scalar_one()
    assert as_utc(cursor) == max(p.played_at for p in served)
    assert estimated == 50, "API plays carry an estimated ms_played"

    again = Poller(engine, settings, clock=clock).poll()
    assert (again.outcomes[0].plays, again.stored.inserted) == (0, 0)
    assert count(engine, fact_play) == 50


def simulated_day() -> list[datetime]:
    """600 plays in one day: steady listening, and one heavy hour of 70 quick skips at 18:00."""
    heavy = [DAY + timedelta(hours=18, seconds=30 + 51 * n) for n in range(70)]
    steady_hours = [h for h in range(24) if h != 18]
    spacing = timedelta(hours=len(steady_hours)) / 530
    steady = []
    for n in range(530):
        at = DAY + spacing * n
        if at.hour >= 18:
            at += timedelta(hours=1)
        steady.append(at + timedelta(seconds=7))
    return sorted(heavy + steady)


def poll_through_the_day(
    engine: Engine, settings: Settings, fake: FakeSpotify, clock: ManualClock, every: timedelta
) -> Poller:
    log_in(engine, settings, fake, "ada.l", clock=clock)
    listen(fake, "ada.l", simulated_day())
    poller = Poller(engine, settings, clock=clock)
    while clock() < DAY + timedelta(days=1):
        clock.advance(seconds=every.total_seconds())
        [outcome] = poller.poll().outcomes
        assert outcome.status == "ok", outcome.message
    return poller


@pytest.mark.slow
def test_polling_every_5_minutes_over_a_day_of_600_plays_loses_nothing(
    engine: Engine, settings: Settings, fake: FakeSpotify, clock: ManualClock
) -> None:
    poll_through_the_day(engine, settings, fake, clock, timedelta(minutes=5))
    assert count(engine, fact_play) == 600
    assert count(engine, coverage_gap) == 0


def test_polling_hourly_through_a_heavy_hour_records_a_coverage_gap(
    engine: Engine, settings: Settings, fake: FakeSpotify, clock: ManualClock
) -> None:
    poll_through_the_day(engine, settings, fake, clock, timedelta(hours=1))
    with engine.connect() as conn:
        [gap] = conn.execute(select(coverage_gap)).all()
    assert count(engine, fact_play) == 600 - 20, "the 20 oldest plays of the heavy hour fell out"
    assert as_utc(gap.start_utc) < DAY + timedelta(hours=18) < as_utc(gap.end_utc)
    assert as_utc(gap.end_utc) < DAY + timedelta(hours=19)
    assert "may be missing" in gap.reason


class RefusingBus:
    """A bus that is down."""

    def publish(self, events: Iterable[PlayEvent]) -> Ack:
        raise TransientError("the bus is unavailable")

    def in_transaction(self, conn: Connection) -> RefusingBus:
        return self


def test_the_cursor_moves_only_after_the_bus_accepts(
    engine: Engine, settings: Settings, fake: FakeSpotify, clock: ManualClock
) -> None:
    log_in(engine, settings, fake, "ada.l", clock=clock)
    listen(fake, "ada.l", (DAY - timedelta(minutes=3 * n) for n in range(10)))

    [refused] = Poller(engine, settings, clock=clock, bus=RefusingBus()).poll().outcomes
    assert refused.status == "failed" and "the next poll fetches them again" in refused.message
    assert count(engine, ingest_cursor) == 0 and count(engine, fact_play) == 0

    [accepted] = Poller(engine, settings, clock=clock).poll().outcomes
    assert (accepted.status, accepted.plays) == ("ok", 10)
    assert count(engine, fact_play) == 10


def test_unusable_items_are_quarantined_and_do_not_block_the_cursor(
    engine: Engine, settings: Settings, fake: FakeSpotify, clock: ManualClock
) -> None:
    log_in(engine, settings, fake, "ada.l", clock=clock)
    listen(fake, "ada.l", (DAY - timedelta(minutes=3 * n) for n in range(5)))
    fake.removed_fields = {"artists"}
    [outcome] = Poller(engine, settings, clock=clock).poll().outcomes
    assert outcome.status == "ok" and "5 unusable item(s) quarantined" in outcome.message
    assert (count(engine, quarantine), count(engine, fact_play)) == (5, 0)
    fake.removed_fields = set()
    [again] = Poller(engine, settings, clock=clock).poll().outcomes
    assert (again.plays, count(engine, quarantine)) == (0, 5), "the cursor moved past them"


def test_answers_missing_optional_fields_still_load(
    engine: Engine, settings: Settings, fake: FakeSpotify, clock: ManualClock
) -> None:
    log_in(engine, settings, fake, "ada.l", clock=clock)
    listen(fake, "ada.l", (DAY - timedelta(minutes=3 * n) for n in range(6)))
    fake.removed_fields = {"album", "duration_ms", "explicit", "external_ids", "context", "images"}
    [outcome] = Poller(engine, settings, clock=clock).poll().outcomes
    assert (outcome.status, outcome.plays) == ("ok", 6)
    assert count(engine, dim_album) == 0

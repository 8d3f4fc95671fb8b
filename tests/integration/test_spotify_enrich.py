"""Enrichment: name-only plays get Spotify ids, art, dates and genres; no play is counted twice."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, update

from tests.factories import play
from tests.fakes.spotify import FakeSpotify, ManualClock
from tests.fakes.spotify.catalog import Track
from tests.fakes.spotify.harness import log_in, spotify_settings
from weekly_wrapped.config import Settings
from weekly_wrapped.events import PlayEvent
from weekly_wrapped.processing.embedded import EmbeddedProcessor
from weekly_wrapped.sources.spotify.enrich import Enricher
from weekly_wrapped.sources.spotify.poller import Poller
from weekly_wrapped.warehouse.schema import (
    bridge_track_artist,
    dim_album,
    dim_artist,
    dim_track,
    dim_user,
    fact_play,
    fact_play_merged,
    oauth_token,
)

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
LONG_AGO = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


@pytest.fixture
def settings(fake: FakeSpotify, engine: Engine, tmp_path: Path) -> Settings:
    return spotify_settings(fake, engine, tmp_path)


def artist_of(fake: FakeSpotify, track: Track) -> str:
    return fake.catalog.artists[track.artist_ids[0]].name


def account_play(fake: FakeSpotify, user: int, track: Track, at: datetime) -> PlayEvent:
    """A play from the account-data export: names only, minute precision."""
    return play(
        user,
        at.replace(second=0, microsecond=0),
        artist=artist_of(fake, track),
        title=track.name,
        source="export_account",
        album=None,
        duration_ms=None,
        precision="min",
        ms_played=150_000,
    )


def extended_play(fake: FakeSpotify, user: int, track: Track, at: datetime) -> PlayEvent:
    """A play from the extended export: the track's id, but its album and artist by name."""
    album = fake.catalog.albums[track.album_id].name
    return play(
        user,
        at,
        artist=artist_of(fake, track),
        title=track.name,
        track_id=track.id,
        album=album,
        source="export_extended",
        duration_ms=None,
        ms_played=140_000,
    )


@pytest.fixture
def history(
    engine: Engine, settings: Settings, fake: FakeSpotify, clock: ManualClock
) -> dict[str, Any]:
    """A user with imports (name-only and id-only) and polled plays, overlapping in songs."""
    user = log_in(engine, settings, fake, "ada", clock=clock).user_key
    tracks = fake.catalog.track_list()
    polled, named, extended = tracks[0:4], tracks[2:8], tracks[20:23]
    for n, track in enumerate(polled):
        fake.listen("ada", track.id, NOW - timedelta(minutes=5 * (n + 1)))
    Poller(engine, settings, clock=clock).poll()
    events = [
        account_play(fake, user, t, LONG_AGO + timedelta(hours=n)) for n, t in enumerate(named)
    ]
    events += [account_play(fake, user, named[0], LONG_AGO + timedelta(days=1))]
    events += [
        extended_play(fake, user, t, LONG_AGO + timedelta(days=2, hours=n))
        for n, t in enumerate(extended)
    ]
    # The same listen seen by the poll and the account export: stored once, the other merged.
    same_listen = fake.listeners["ada"].plays[-1]
    events.append(
        account_play(fake, user, fake.catalog.tracks[same_listen.track_id], same_listen.played_at)
    )
    events.append(
        play(
            user,
            LONG_AGO,
            artist="Nobody Known",
            title="Not On Spotify",
            source="export_account",
            album=None,
            precision="min",
        )
    )
    EmbeddedProcessor(engine).process(events)
    return {"user": user, "tracks": {t.id for t in [*polled, *named, *extended]}}


def scalar(engine: Engine, query: Any) -> Any:
    with engine.connect() as conn:
        return conn.execute(query).scalar_one()


def per_song(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(fact_play.c.song_key, func.count()).group_by(fact_play.c.song_key)
        )
        return {song: plays for song, plays in rows}


def named_keys(engine: Engine, table: Any, column: str) -> set[str]:
    with engine.connect() as conn:
        found = conn.execute(select(table.c[column]).where(table.c[column].startswith("n:")))
        return set(found.scalars())


def test_name_only_plays_are_merged_into_spotify_ids_without_counting_any_twice(
    engine: Engine,
    settings: Settings,
    clock: ManualClock,
    fake: FakeSpotify,
    history: dict[str, Any],
) -> None:
    plays_before, songs_before = (
        scalar(engine, select(func.count()).select_from(fact_play)),
        per_song(engine),
    )
    merged_before = scalar(engine, select(func.count()).select_from(fact_play_merged))
    assert merged_before == 1 and len(named_keys(engine, fact_play, "track_key")) == 8

    report = Enricher(engine, settings, clock=clock, budget=100).run()

    assert (report.tracks_resolved, report.stopped, report.left) == (7, None, 0)
    assert scalar(engine, select(func.count()).select_from(fact_play)) == plays_before
    assert scalar(engine, select(func.count()).select_from(fact_play_merged)) == merged_before
    assert per_song(engine) == songs_before
    unknown = named_keys(engine, fact_play, "track_key")
    assert len(unknown) == 1, "only the song Spotify does not have keeps its name-only key"
    assert named_keys(engine, fact_play_merged, "track_key") == set()
    with engine.connect() as conn:
        played = set(conn.execute(select(fact_play.c.track_key).distinct()).scalars())
        artists = conn.execute(
            select(func.count(func.distinct(fact_play.c.artist_key)))
        ).scalar_one()
        orphans = conn.execute(
            select(func.count())
            .select_from(dim_artist)
            .where(
                dim_artist.c.artist_key.startswith("n:"),
                ~dim_artist.c.artist_key.in_(select(fact_play.c.artist_key)),
            )
        ).scalar_one()
    assert played - unknown == history["tracks"]
    assert orphans == 0 and len(named_keys(engine, dim_album, "album_key")) == 0
    real_artists = {fake.catalog.tracks[t].artist_ids[0] for t in history["tracks"]}
    assert artists == len(real_artists) + 1, "one artist per person, plus the unknown one"


def test_albums_get_art_and_dates_and_artists_get_genres(
    engine: Engine,
    settings: Settings,
    clock: ManualClock,
    fake: FakeSpotify,
    history: dict[str, Any],
) -> None:
    Enricher(engine, settings, clock=clock, budget=100).run()
    with engine.connect() as conn:
        albums = conn.execute(select(dim_album)).all()
        artists = conn.execute(select(dim_artist).where(dim_artist.c.spotify_id.is_not(None))).all()
        tracks = conn.execute(select(dim_track).where(dim_track.c.spotify_id.is_not(None))).all()
    assert albums and all(a.release_date and a.image_url and a.album_type for a in albums)
    for artist in artists:
        genres = artist.genres if isinstance(artist.genres, list) else json.loads(artist.genres)
        assert genres == fake.catalog.artists[artist.spotify_id].genres
        assert artist.image_url
    assert all(
        t.duration_ms and t.album_key == fake.catalog.tracks[t.spotify_id].album_id for t in tracks
    )


def test_nothing_is_fetched_twice(
    engine: Engine,
    settings: Settings,
    clock: ManualClock,
    fake: FakeSpotify,
    history: dict[str, Any],
) -> None:
    first = Enricher(engine, settings, clock=clock, budget=100).run()
    asked = len(fake.seen)
    again = Enricher(engine, settings, clock=clock, budget=100).run()
    assert first.requests > 0 and again.requests == 0 and len(fake.seen) == asked

    user = history["user"]
    track = fake.catalog.track_list()[3]
    EmbeddedProcessor(engine).process(
        [account_play(fake, user, track, LONG_AGO + timedelta(days=9))]
    )
    later = Enricher(engine, settings, clock=clock, budget=100).run()
    assert (later.requests, later.reused) == (0, 1), (
        "a new import of a known song is merged from the cache"
    )
    assert len(named_keys(engine, fact_play, "track_key")) == 1, "only the unknown song"


def test_a_run_keeps_to_its_budget_and_the_next_one_carries_on(
    engine: Engine,
    settings: Settings,
    clock: ManualClock,
    fake: FakeSpotify,
    history: dict[str, Any],
) -> None:
    asked = len(fake.seen)
    first = Enricher(engine, settings, clock=clock, budget=3).run()
    assert first.requests == 3 and len(fake.seen) - asked == 3 and first.left > 0
    rest = Enricher(engine, settings, clock=clock, budget=100).run()
    assert rest.left == 0 and rest.tracks_resolved + first.tracks_resolved == 7


def test_a_long_429_stops_the_run_and_keeps_what_it_learned(
    engine: Engine,
    settings: Settings,
    clock: ManualClock,
    fake: FakeSpotify,
    history: dict[str, Any],
) -> None:
    fake.inject("/v1/search", status=429, retry_after=3600, times=None)
    report = Enricher(engine, settings, clock=clock, budget=100).run()
    assert report.stopped is not None and "1 h 0 min" in report.stopped
    assert report.requests == 1 and report.left > 0


def test_bridges_point_at_real_artists_only(
    engine: Engine, settings: Settings, clock: ManualClock, history: dict[str, Any]
) -> None:
    Enricher(engine, settings, clock=clock, budget=100).run()
    with engine.connect() as conn:
        named = conn.execute(
            select(bridge_track_artist.c.track_key).where(
                bridge_track_artist.c.artist_key.startswith("n:")
            )
        ).scalars()
        assert all(key.startswith("n:") for key in named), "real tracks have real artists"


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ("unreadable token", "cannot be decrypted with this WRAPPED_SECRET_KEY"),
        ("lapsed grant", "Spotify no longer accepts this grant"),
        ("lapsed grant, removed timezone", "unexpected ZoneInfoNotFoundError"),
    ],
)
def test_a_connection_that_fails_is_named_and_another_users_is_used(
    engine: Engine,
    settings: Settings,
    clock: ManualClock,
    fake: FakeSpotify,
    history: dict[str, Any],
    fault: str,
    reason: str,
) -> None:
    ada = history["user"]
    log_in(engine, settings, fake, "grace", clock=clock)
    with engine.begin() as conn:
        if fault == "unreadable token":
            conn.execute(
                update(oauth_token)
                .where(oauth_token.c.user_key == ada)
                .values(access_token_enc="not a token")  # noqa: S106
            )
        if "removed timezone" in fault:
            # A timezone since dropped from the tz database: working out her lapse week fails.
            conn.execute(
                update(dim_user).where(dim_user.c.user_key == ada).values(timezone="US/Pacific-New")
            )
    if "lapsed" in fault:
        fake.revoke("ada")
        clock.advance(hours=2)

    report = Enricher(engine, settings, clock=clock, budget=100).run()

    assert (report.tracks_resolved, report.stopped, report.left) == (7, None, 0)
    assert list(report.failed_users) == [ada] and reason in report.failed_users[ada]

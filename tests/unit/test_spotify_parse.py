"""Spotify JSON → PlayEvents and dimension rows: every field may be missing."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.fakes.spotify.catalog import Catalog, artist_json, played_at_text, track_json
from weekly_wrapped import identity
from weekly_wrapped.sources.spotify import parse

CATALOG = Catalog.build(seed=3, artists=4)
TRACK = CATALOG.track_list()[0]
WHEN = datetime(2026, 11, 16, 9, 30, 12, 345000, tzinfo=UTC)


def item(when: datetime = WHEN, **changes: Any) -> dict[str, Any]:
    track = track_json(CATALOG, TRACK, dev_mode=True)
    track.update(changes)
    return {
        "track": track,
        "played_at": played_at_text(when),
        "context": {"type": "playlist", "uri": "spotify:playlist:abc"},
    }


def test_a_recently_played_item_becomes_an_api_play_without_ms_played() -> None:
    [event], rejected = parse.play_events(7, [item()])
    assert rejected == []
    assert (event.user_id, event.source, event.ms_played, event.played_at) == (7, "api", None, WHEN)
    assert event.track.id == TRACK.id and event.track.duration_ms == TRACK.duration_ms
    assert event.track.album is not None
    assert (event.track.album.image_url or "").startswith("https://i.scdn.co/")
    assert event.track.isrc == TRACK.isrc
    assert event.context is not None and event.context.uri == "spotify:playlist:abc"


def test_the_same_listen_always_gets_the_same_event_id() -> None:
    first, _ = parse.play_events(7, [item()])
    again, _ = parse.play_events(7, [copy.deepcopy(item())])
    assert first[0].event_id == again[0].event_id


def test_two_plays_of_a_song_ending_in_the_same_second_stay_two_plays() -> None:
    events, _ = parse.play_events(7, [item(), item(WHEN.replace(microsecond=900000))])
    assert len({e.event_id for e in events}) == 2


@pytest.mark.parametrize(
    "removed",
    ["album", "duration_ms", "explicit", "external_ids", "id", "uri", "disc_number", "is_local"],
)
def test_missing_track_fields_are_accepted(removed: str) -> None:
    raw = item()
    del raw["track"][removed]
    [event], rejected = parse.play_events(7, [raw])
    assert rejected == [] and event.track.name == TRACK.name


def test_items_that_cannot_be_a_play_are_rejected_with_a_reason() -> None:
    no_artist = item(artists=[])
    no_name = item(name=None)
    no_time = item()
    del no_time["played_at"]
    events, rejected = parse.play_events(7, [no_artist, no_name, no_time, item()])
    assert len(events) == 1
    reasons = sorted(r.reason for r in rejected)
    assert any("no named artist" in r for r in reasons)
    assert any("has no name" in r for r in reasons)
    assert any("no played_at" in r for r in reasons)
    assert all(r.user_key == 7 for r in rejected)


def test_wrongly_typed_fields_are_dropped_rather_than_trusted() -> None:
    [event], _ = parse.play_events(7, [item(duration_ms="long", explicit="yes")])
    assert (event.track.duration_ms, event.track.explicit) == (None, None)


def test_a_track_object_gives_dimension_rows_keyed_by_spotify_ids() -> None:
    found = parse.catalog_track(track_json(CATALOG, TRACK, dev_mode=True))
    assert found is not None
    assert found.track.track_key == TRACK.id
    assert found.track.song_key == identity.song_key(
        CATALOG.artists[TRACK.artist_ids[0]].name, TRACK.name
    )
    assert found.album is not None and found.album.album_key == TRACK.album_id
    assert found.album.release_date == CATALOG.albums[TRACK.album_id].release_date
    assert [a.artist_key for a in found.artists] == TRACK.artist_ids


def test_a_track_object_without_ids_is_not_a_catalog_match() -> None:
    raw = track_json(CATALOG, TRACK, dev_mode=True)
    del raw["id"]
    assert parse.catalog_track(raw) is None


def test_search_matches_only_the_same_song() -> None:
    wanted = parse.catalog_track(track_json(CATALOG, TRACK, dev_mode=True))
    assert wanted is not None
    others = [track_json(CATALOG, t, dev_mode=True) for t in CATALOG.track_list()[1:4]]
    answer = {"tracks": {"items": [*others, track_json(CATALOG, TRACK, dev_mode=True)]}}
    found = parse.matching_track(answer, wanted.track.song_key)
    assert found is not None and found.track.track_key == TRACK.id
    assert parse.matching_track({"tracks": {"items": others}}, wanted.track.song_key) is None
    assert parse.matching_track({}, wanted.track.song_key) is None


def test_artist_objects_keep_genres_and_pictures_when_spotify_still_sends_them() -> None:
    artist = CATALOG.artists[TRACK.artist_ids[0]]
    row = parse.artist_row(artist_json(artist, dev_mode=True))
    assert row is not None and row.genres is not None and artist.genres[0] in row.genres
    bare = artist_json(artist, dev_mode=True)
    del bare["genres"], bare["images"]
    row = parse.artist_row(bare)
    assert row is not None and (row.genres, row.image_url) == (None, None)
    answer = {"artists": {"items": [artist_json(artist, dev_mode=True)]}}
    assert parse.matching_artist(answer, artist.name.upper()) is not None
    assert parse.matching_artist(answer, artist.name + " Band") is None


def test_only_real_release_dates_are_kept() -> None:
    album = {"id": "x" * 22, "name": "Tidal", "release_date": "0000", "artists": []}
    assert parse.album_object(album) is not None
    assert parse.album_object(album).release_date == "0000"  # type: ignore[union-attr]
    album["release_date"] = "soon"
    assert parse.album_object(album).release_date is None  # type: ignore[union-attr]


def test_names_lose_control_characters_and_a_name_of_nothing_else_is_missing() -> None:
    raw = item(name="Saman\x1b]8;;https://evil.example\x07")
    raw["track"]["artists"][0]["name"] = "Ólafur\u009b2J\tArnalds"
    raw["track"]["album"]["name"] = "\x00\x1b"
    [event], rejected = parse.play_events(7, [raw])
    assert rejected == []
    assert event.track.name == "Saman]8;;https://evil.example"
    assert event.track.artists[0].name == "Ólafur2J Arnalds"
    assert event.track.album is None
    blank = item(name="\r\n\x1b")
    events, rejected = parse.play_events(7, [blank])
    assert events == [] and "has no name" in rejected[0].reason
    artist = artist_json(CATALOG.artists[TRACK.artist_ids[0]], dev_mode=True)
    artist |= {"name": "Sigur\x1b[31m Rós", "genres": ["post-rock\x07", "\x1b"]}
    row = parse.artist_row(artist)
    assert row is not None and row.name == "Sigur[31m Rós" and row.genres == '["post-rock"]'


def test_a_track_uri_that_is_not_a_spotify_id_is_dropped() -> None:
    [event], _ = parse.play_events(7, [item(uri="spotify:track:\x1b[2J")])
    assert event.track.uri is None and event.track.id == TRACK.id

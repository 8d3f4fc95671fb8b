"""Export rows → PlayEvents: formats told apart by content, every field mapped, nothing private kept."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from weekly_wrapped.sources.export import (
    HALF_METADATA,
    INVALID,
    MALFORMED,
    NULL_METADATA,
    ExportRows,
    looks_like_history,
    sniff,
)


def extended(**fields: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "ts": "2023-03-01T21:14:52Z",
        "platform": "android",
        "ms_played": 32650,
        "conn_country": "DE",
        "ip_addr": "198.51.100.7",
        "master_metadata_track_name": "Midnight City",
        "master_metadata_album_artist_name": "M83",
        "master_metadata_album_album_name": "Hurry Up, We're Dreaming",
        "spotify_track_uri": "spotify:track:1eyzqe2QqGZUmfcPZtrIyt",
        "episode_name": None,
        "episode_show_name": None,
        "spotify_episode_uri": None,
        "audiobook_title": None,
        "audiobook_uri": None,
        "audiobook_chapter_uri": None,
        "audiobook_chapter_title": None,
        "reason_start": "backbtn",
        "reason_end": "fwdbtn",
        "shuffle": True,
        "skipped": True,
        "offline": False,
        "offline_timestamp": None,
        "incognito_mode": False,
    }
    row.update(fields)
    return row


def one_event(rows: ExportRows, row: dict[str, Any]) -> Any:
    (event,) = rows.events(rows.candidates([row]))
    return event


def test_formats_are_told_apart_by_content_not_name() -> None:
    assert sniff(extended()) == "extended"
    assert (
        sniff({"endTime": "2023-02-03 19:08", "artistName": "M83", "trackName": "x", "msPlayed": 1})
        == "account_music"
    )
    assert (
        sniff(
            {"endTime": "2023-02-03 19:08", "podcastName": "p", "episodeName": "e", "msPlayed": 1}
        )
        == "account_podcast"
    )
    assert sniff({"platform": "ANDROID", "searchTime": "2023", "searchQuery": "hoppipolla"}) is None
    assert sniff(["not", "a", "row"]) is None
    assert looks_like_history(
        "Spotify Extended Streaming History/Streaming_History_Video_2023.json"
    )
    assert looks_like_history("MyData/endsong_3.json")
    assert looks_like_history("StreamingHistory_podcast_0.json")
    assert not looks_like_history("Spotify Account Data/Playlist1.json")


def test_an_extended_row_keeps_every_playback_detail_and_drops_the_ip_address() -> None:
    event = one_event(ExportRows("extended", 7), extended())
    assert event.source == "export_extended"
    assert (event.time_precision, event.ms_played) == ("s", 32650)
    assert event.played_at == datetime(2023, 3, 1, 21, 14, 52, tzinfo=UTC)
    assert (event.track.name, event.track.artists[0].name) == ("Midnight City", "M83")
    assert (event.track.id, event.track.album.name) == (
        "1eyzqe2QqGZUmfcPZtrIyt",
        "Hurry Up, We're Dreaming",
    )
    extras = event.extras
    assert (extras.reason_start, extras.reason_end, extras.shuffle, extras.skipped) == (
        "backbtn", "fwdbtn", True, True
    )  # fmt: skip
    assert (extras.platform, extras.conn_country, extras.offline) == ("android", "DE", False)
    assert b"198.51.100.7" not in event.to_json()


def test_episodes_audiobooks_and_incognito_plays_are_kept() -> None:
    rows = ExportRows("extended", 7)
    episode = one_event(rows, extended(
        master_metadata_track_name=None, master_metadata_album_artist_name=None,
        master_metadata_album_album_name=None, spotify_track_uri=None,
        episode_name="Inside the Fight Over A.I.", episode_show_name="The Daily",
        spotify_episode_uri="spotify:episode:0Q86acNRm6V9GYx55SXKwf", incognito_mode=True,
    ))  # fmt: skip
    assert (episode.kind, episode.track.show.name) == ("episode", "The Daily")
    assert episode.track.uri == "spotify:episode:0Q86acNRm6V9GYx55SXKwf"
    assert episode.extras.incognito is True
    chapter = one_event(rows, extended(
        ts="2023-07-09T22:03:30Z", master_metadata_track_name=None,
        master_metadata_album_artist_name=None, spotify_track_uri=None,
        audiobook_title="Project Hail Mary", audiobook_chapter_title="Chapter 1",
        audiobook_chapter_uri="spotify:chapter:6QwF0OaQyqLdBhk5oROjdc",
    ))  # fmt: skip
    assert (chapter.kind, chapter.track.name, chapter.track.show.name) == (
        "audiobook", "Chapter 1", "Project Hail Mary"
    )  # fmt: skip
    assert rows.counts.incognito == 1


def test_rows_naming_nothing_are_counted_by_reason_and_bad_rows_quarantined() -> None:
    rows = ExportRows("extended", 7)
    nothing = extended(master_metadata_track_name=None, master_metadata_album_artist_name=None,
                       spotify_track_uri=None)  # fmt: skip
    half = extended(master_metadata_album_artist_name=None)
    no_time = extended(ts=None)
    too_long = extended(ts="2023-03-02T08:00:00Z", ms_played=90_000_000)
    candidates = rows.candidates([nothing, half, no_time, "not a row", too_long])
    assert rows.events(candidates) == []
    assert rows.counts.rows == 5
    assert rows.counts.skipped == {NULL_METADATA: 1, HALF_METADATA: 1, MALFORMED: 2, INVALID: 1}
    rejected = rows.take_rejected()
    assert len(rejected) == 3
    assert "ms_played: Input should be less than or equal to 86400000" in rejected[-1].reason
    assert all("198.51.100.7" not in r.payload for r in rejected)
    assert rows.take_rejected() == []


def test_account_rows_have_minute_precision_and_names_only() -> None:
    music = ExportRows("account_music", 7)
    event = one_event(music, {"endTime": "2023-03-01 21:14", "artistName": "Ólafur Arnalds",
                              "trackName": "Saman", "msPlayed": 204630})  # fmt: skip
    assert (event.source, event.time_precision) == ("export_account", "min")
    assert event.played_at == datetime(2023, 3, 1, 21, 14, tzinfo=UTC)
    assert (event.track.id, event.track.album) == (None, None)
    unknown = {"endTime": "2023-03-01 21:20", "artistName": "Unknown Artist",
               "trackName": "Unknown Track", "msPlayed": 183000}  # fmt: skip
    assert music.candidates([unknown]) == []
    assert music.counts.skipped == {NULL_METADATA: 1}
    podcast = one_event(ExportRows("account_podcast", 7), {
        "endTime": "2023-02-20 06:58", "podcastName": "The Daily",
        "episodeName": "The Sunday Read", "msPlayed": 1534000,
    })  # fmt: skip
    assert (podcast.kind, podcast.track.show.name) == ("episode", "The Daily")


def test_identical_rows_in_a_file_are_distinct_plays_and_a_second_file_repeats_their_ids() -> None:
    row = extended(ms_played=0)
    first_file, second_file = ExportRows("extended", 7), ExportRows("extended", 7)
    ids = [c.event_id for c in first_file.candidates([row, dict(row), extended()])]
    assert len(set(ids)) == 3
    assert [c.event_id for c in second_file.candidates([dict(row), dict(row)])] == ids[:2]


def test_plays_ending_in_the_same_minute_differ_by_what_was_played() -> None:
    music = ExportRows("account_music", 7)
    rows = [
        {
            "endTime": "2023-03-01 21:14",
            "artistName": "M83",
            "trackName": "Midnight City",
            "msPlayed": ms,
        }
        for ms in (4210, 13890, 32650)
    ]
    assert len({c.event_id for c in music.candidates(rows)}) == 3


def test_a_quarantined_row_keeps_its_other_fields() -> None:
    rows = ExportRows("extended", 7)
    rows.candidates([extended(ts="yesterday")])
    (rejected,) = rows.take_rejected()
    payload = orjson.loads(rejected.payload)
    assert payload["ts"] == "yesterday"
    assert "ip_addr" not in payload and payload["platform"] == "android"


def test_names_lose_control_characters_and_a_name_of_nothing_else_is_missing() -> None:
    rows = ExportRows("extended", 7)
    clean = one_event(rows, extended(
        master_metadata_track_name="Midnight\x1b[2J City\x07",
        master_metadata_album_artist_name="M83\u0085\x9b31m",
        master_metadata_album_album_name="Hurry Up,\tWe're\r\nDreaming\x00",
    ))  # fmt: skip
    assert clean.track.name == "Midnight[2J City"
    assert clean.track.artists[0].name == "M83 31m"
    assert clean.track.album.name == "Hurry Up, We're  Dreaming"
    assert clean.track.id == "1eyzqe2QqGZUmfcPZtrIyt"
    nothing = extended(master_metadata_track_name="\x1b\x07", master_metadata_album_artist_name="\x00",
                       spotify_track_uri=None)  # fmt: skip
    assert rows.candidates([nothing]) == []
    assert rows.counts.skipped == {NULL_METADATA: 1}
    account = ExportRows("account_music", 7)
    blank = {
        "endTime": "2023-03-01 21:20",
        "artistName": "\r\n",
        "trackName": "\x9b",
        "msPlayed": 1,
    }
    assert account.candidates([blank]) == []
    assert account.counts.skipped == {NULL_METADATA: 1}


@pytest.mark.parametrize(
    "uri",
    ["spotify:track:1eyzqe2QqGZUmfcPZtrIy", "spotify:track:1eyzqe2QqGZUmfcPZtrIytX",
     "spotify:track:1eyzqe2QqGZUmfcPZtrIy!", "spotify:track:1eyzqe2QqGZUmfcPZtrIy\u0661",
     "spotify:track:1eyzqe2QqGZUmfcPZtrIyt\n", "spotify:track:" + "x" * 10_000],
)  # fmt: skip
def test_a_track_uri_that_is_not_a_spotify_id_is_no_id(uri: str) -> None:
    event = one_event(ExportRows("extended", 7), extended(spotify_track_uri=uri))
    assert (event.track.id, event.track.uri) == (None, None)
    assert event.track.name == "Midnight City"

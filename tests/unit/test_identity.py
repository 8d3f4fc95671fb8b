from datetime import UTC, datetime

import pytest

from weekly_wrapped import identity


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Heroes - Remastered 2017", "heroes"),
        ("Heroes - 2017 Remaster", "heroes"),
        ("Heroes (Remastered)", "heroes"),
        ("Heroes - Remastered Version", "heroes"),
        ("Heroes  ", "heroes"),
        ("Heroes - Live", "heroes - live"),
        ("Remaster", "remaster"),
    ],
)
def test_titles_lose_remaster_suffixes_only(title: str, expected: str) -> None:
    assert identity.normalize_title(title) == expected


def test_normalize_folds_width_case_and_whitespace() -> None:
    assert identity.normalize("ＢＥＹＯＮＣÉ\t  and   Friends") == "beyoncé and friends"
    assert identity.normalize("Straße") == "strasse"


def test_song_key_groups_spellings_of_one_song() -> None:
    key = identity.song_key("David Bowie", "Heroes - 2017 Remaster")
    assert key == identity.song_key("DAVID  BOWIE", "heroes")
    assert key != identity.song_key("David Bowie", "Heroes - Live")


def test_track_key_prefers_the_spotify_id() -> None:
    assert identity.track_key("4uLU6hMCjMI75M1A2tKUQC", "A", "B") == "4uLU6hMCjMI75M1A2tKUQC"
    name_only = identity.track_key(None, "A", "B")
    assert name_only == "n:" + identity.song_key("A", "B")


def test_artist_and_show_keys_never_collide() -> None:
    assert identity.artist_key(None, "Serial") != identity.show_key(None, "Serial")


def test_event_id_tells_apart_identical_rows_by_their_number() -> None:
    at = datetime(2026, 11, 17, 8, 0, tzinfo=UTC)
    song = identity.song_key("A", "B")
    first = identity.event_id(1, "export_account", at, song, 1200, 0)
    assert first == identity.event_id(1, "export_account", at, song, 1200, 0)
    assert first != identity.event_id(1, "export_account", at, song, 1200, 1)
    assert first != identity.event_id(1, "export_account", at, song, 1300, 0)
    assert first != identity.event_id(2, "export_account", at, song, 1200, 0)
    assert first != identity.event_id(1, "api", at, song, 1200, 0)


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("spotify:track:4uLU6hMCjMI75M1A2tKUQC", "4uLU6hMCjMI75M1A2tKUQC"),
        ("spotify:episode:0Q86acNRm6V9GYx55SXKwf", "0Q86acNRm6V9GYx55SXKwf"),
        ("spotify:track:", None),
        ("https://open.spotify.com/track/x", None),
        (None, None),
        ("spotify:track:4uLU6hMCjMI75M1A2tKUQ", None),
        ("spotify:track:4uLU6hMCjMI75M1A2tKUQCx", None),
        ("spotify:track:4uLU6hMCjMI75M1A2tKU_C", None),
        ("spotify:track:４uLU6hMCjMI75M1A2tKUQC", None),
        ("spotify:track:4uLU6hMCjMI75M1A2tKUQC\n", None),
        ("spotify:\x1b[2J:4uLU6hMCjMI75M1A2tKUQC", None),
        ("spotify:track:abc", None),
    ],
)
def test_ids_come_out_of_spotify_uris(uri: str | None, expected: str | None) -> None:
    assert identity.spotify_id_from_uri(uri) == expected


def test_event_ids_never_change_between_versions() -> None:
    """Stored plays are matched by id: a new formula would import everything twice."""
    at = datetime(2026, 11, 17, 8, 0, 5, 123456, tzinfo=UTC)
    song = identity.song_key("Nova Lane", "Harbour Lights")
    assert song == identity.song_key("NOVA LANE", "Harbour Lights - Remastered 2011")
    assert identity.event_id(1, "export_extended", at, song, 200000, 0) == (
        "e2493b45a44e41075c608ec42da42fcc"
    )

"""The rows the warehouse stores, and the counting rules every stage shares (DESIGN §4, §5).

Sources build dimension rows, processing builds every row, the warehouse writes
them and insights count with the same rules: so they live here, below all four.
Pure: no I/O.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

import orjson

from weekly_wrapped.events import TrackRef, WireTrack

STREAM_MS = 30_000
"""Spotify's rule: a play of at least 30 s is a stream; shorter is a skip."""

SPOTIFY_BEGAN = datetime(2006, 1, 1, tzinfo=UTC)
"""No play can be older; earlier dates are damage, and would overflow date arithmetic."""


class ArtistRow(NamedTuple):
    artist_key: str
    spotify_id: str | None
    name: str
    genres: str | None
    image_url: str | None


class AlbumRow(NamedTuple):
    album_key: str
    spotify_id: str | None
    name: str
    release_date: str | None
    album_type: str | None
    image_url: str | None


class TrackRow(NamedTuple):
    track_key: str
    spotify_id: str | None
    song_key: str
    name: str
    kind: str
    duration_ms: int | None
    explicit: bool | None
    isrc: str | None
    album_key: str | None


class BridgeRow(NamedTuple):
    track_key: str
    artist_key: str
    position: int


class SpellingRow(NamedTuple):
    """The names one play carried, exactly as its source spelled them."""

    spelling_key: str
    track_name: str
    artist_name: str
    album_name: str | None


class DateRow(NamedTuple):
    date_key: int
    date: dt.date
    iso_year: int
    iso_week: int
    week_start: dt.date
    day_of_week: int
    month: int
    year: int


class PlayRow(NamedTuple):
    play_id: str
    user_key: int
    track_key: str
    artist_key: str
    album_key: str | None
    song_key: str
    played_at_utc: datetime
    time_precision: str
    local_date_key: int
    local_hour: int
    ms_played: int
    ms_played_estimated: bool
    source: str
    kind: str
    context_uri: str | None
    reason_start: str | None
    reason_end: str | None
    skipped: bool | None
    shuffle: bool | None
    offline: bool | None
    incognito: bool
    spelling_key: str


class Rejected(NamedTuple):
    """An event the warehouse must not take, with the reason it goes to quarantine."""

    reason: str
    payload: str
    user_key: int | None = None
    event_id: str | None = None


class PlayKeys(NamedTuple):
    """What a play's own names make of it: its keys in every dimension."""

    track_key: str
    artist_key: str
    album_key: str | None
    song_key: str
    spelling_key: str


@dataclass
class Rows:
    """Everything one batch writes. Dimension rows are unique by key."""

    artists: dict[str, ArtistRow] = field(default_factory=dict)
    albums: dict[str, AlbumRow] = field(default_factory=dict)
    tracks: dict[str, TrackRow] = field(default_factory=dict)
    bridges: dict[tuple[str, str], BridgeRow] = field(default_factory=dict)
    dates: dict[int, DateRow] = field(default_factory=dict)
    spellings: dict[str, SpellingRow] = field(default_factory=dict)
    named: dict[tuple[Any, ...], tuple[TrackRef | WireTrack, PlayKeys]] = field(
        default_factory=dict, repr=False
    )
    plays: list[PlayRow] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)


_QUARTER_HOUR_S = 900


@lru_cache(maxsize=262_144)
def _slot_of_quarter(quarter: int, zone: ZoneInfo) -> tuple[int, int]:
    local = datetime.fromtimestamp(quarter * _QUARTER_HOUR_S, UTC).astimezone(zone)
    return local.year * 10000 + local.month * 100 + local.day, local.hour


_QUARTER_HOURS_SINCE = datetime(1980, 1, 1, tzinfo=UTC)


def local_slot(played_at: datetime, zone: ZoneInfo) -> tuple[int, int]:
    """(local_date_key, local_hour) of a play in the user's timezone.

    Since 1980 every UTC offset, and every change of one, falls on a whole quarter
    hour, so the answer is cached per quarter hour; older times are converted directly.
    """
    if played_at < _QUARTER_HOURS_SINCE:
        local = played_at.astimezone(zone)
        return local.year * 10000 + local.month * 100 + local.day, local.hour
    return _slot_of_quarter(int(played_at.timestamp()) // _QUARTER_HOUR_S, zone)


def date_row(day: date) -> DateRow:
    iso = day.isocalendar()
    return DateRow(
        date_key=day.year * 10000 + day.month * 100 + day.day,
        date=day,
        iso_year=iso.year,
        iso_week=iso.week,
        week_start=day - timedelta(days=day.weekday()),
        day_of_week=day.weekday(),
        month=day.month,
        year=day.year,
    )


def genres_json(genres: Sequence[str] | None) -> str | None:
    """Genres as the JSON text stored in `dim_artist.genres`."""
    return None if genres is None else orjson.dumps(list(genres)).decode()

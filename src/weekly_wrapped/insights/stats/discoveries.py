"""What is new in a period, or back after a long time, judged against the user's whole history.

Each question is one query: the period's songs or artists, each checked with a
correlated probe for its latest stream before the period. The probes read the
partial indexes of music streams by (user, artist | song, played_at) backwards
and stop at the first entry, so their cost does not grow with the history.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from functools import cache

from sqlalchemy import (
    ColumnElement,
    Connection,
    Float,
    Subquery,
    and_,
    exists,
    func,
    literal_column,
    or_,
    select,
)

from weekly_wrapped.insights.models import Entry
from weekly_wrapped.insights.stats.entries import SpotifyKind, entry
from weekly_wrapped.insights.stats.period import (
    START_UTC,
    Period,
    Query,
    counted,
    in_period,
    is_stream,
    of_kind,
)
from weekly_wrapped.insights.stats.portable import epoch_seconds
from weekly_wrapped.insights.stats.rankings import (
    artist_totals,
    by_minutes,
    named_artists,
    named_songs,
    ranked,
    song_totals,
)
from weekly_wrapped.warehouse.schema import fact_play

LISTED = 10
"""Entries kept in `new_artists`, `new_tracks` and `rediscoveries`; the totals count them all."""

AWAY = timedelta(weeks=8)
"""How long an artist must go unstreamed to count as rediscovered."""


@dataclass(frozen=True)
class Found:
    """The first `LISTED` entries of a list, by minutes, and how many there are in all."""

    entries: list[Entry]
    total: int


def _earlier_streams(incognito: bool, key: str, of: ColumnElement[str]) -> Query:
    """When the user's streams of the song or artist `of` before the period ended, latest first."""
    earlier = fact_play.alias("earlier")
    return (
        select(epoch_seconds(earlier.c.played_at_utc))
        .where(
            counted(incognito, earlier),
            earlier.c[key] == of,
            earlier.c.played_at_utc < START_UTC,
            of_kind("music", earlier),
            is_stream(earlier),
        )
        .order_by(earlier.c.played_at_utc.desc())
        .limit(1)
    )


@cache
def _new_tracks(incognito: bool) -> Query:
    songs = song_totals(incognito).subquery()
    is_new = ~exists(_earlier_streams(incognito, "song_key", songs.c.key))
    places = ranked(songs, by_minutes(songs), and_(songs.c.streams > 0, is_new))
    return named_songs(places, by_minutes, LISTED, incognito)


@cache
def _new_artists(incognito: bool) -> Query:
    artists = artist_totals(incognito).subquery()
    is_new = ~exists(_earlier_streams(incognito, "artist_key", artists.c.key))
    places = ranked(artists, by_minutes(artists), and_(artists.c.streams > 0, is_new))
    return named_artists(places, by_minutes, LISTED, incognito)


@cache
def _rediscoveries(incognito: bool) -> Query:
    inside = _longest_silence_inside(incognito)
    last_before = _earlier_streams(incognito, "artist_key", inside.c.key).scalar_subquery()
    away: ColumnElement[float] = literal_column(str(AWAY.total_seconds()), Float)
    back_from_before = epoch_seconds(inside.c.first_stream_at) - last_before
    is_back = or_(back_from_before >= away, inside.c.longest >= away)
    places = ranked(inside, by_minutes(inside), is_back)
    return named_artists(places, by_minutes, LISTED, incognito)


def new_tracks(conn: Connection, period: Period) -> Found:
    """Songs whose first stream ever falls in the period."""
    return _found(conn, _new_tracks(period.include_incognito), period, "track")


def new_artists(conn: Connection, period: Period) -> Found:
    """Artists whose first stream ever falls in the period."""
    return _found(conn, _new_artists(period.include_incognito), period, "artist")


def rediscoveries(conn: Connection, period: Period) -> Found:
    """Artists streamed in the period after at least `AWAY` with no stream of them.

    The silence is measured between stream ends: from the last stream before the
    period, or between two streams inside a longer period.
    """
    return _found(conn, _rediscoveries(period.include_incognito), period, "artist")


def _longest_silence_inside(incognito: bool) -> Subquery:
    """`artist_totals`, with each artist's longest time between two streams in the period."""
    ended = epoch_seconds(fact_play.c.played_at_utc)
    by_artist = func.lag(ended).over(
        partition_by=fact_play.c.artist_key, order_by=fact_play.c.played_at_utc
    )
    silences = (
        select(fact_play.c.artist_key, (ended - by_artist).label("silence"))
        .where(in_period(incognito), is_stream())
        .subquery()
    )
    longest = (
        select(silences.c.artist_key, func.max(silences.c.silence).label("longest"))
        .group_by(silences.c.artist_key)
        .subquery()
    )
    artists = artist_totals(incognito).subquery()
    return (
        select(artists, longest.c.longest)
        .join(longest, longest.c.artist_key == artists.c.key)
        .subquery()
    )


def _found(conn: Connection, query: Query, period: Period, kind: SpotifyKind) -> Found:
    rows = conn.execute(query, period.params()).all()
    return Found([entry(row, kind) for row in rows], int(rows[0].total) if rows else 0)

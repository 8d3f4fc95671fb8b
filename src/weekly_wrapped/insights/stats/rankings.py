"""Top lists, the artist minutes behind the shares, and the song on repeat: grouped in SQL.

Songs are grouped by song key, so an API play (with ids) and an export play
(names only) of one song are one entry; its link and art come from one of its
played tracks, one with a Spotify id when there is one. Every entry is named by
the user's own plays in the period: the spelling played most, then the latest
(`spelled`), never by names that another play or another user carried. "By
streams" counts streams only; "by minutes" sums every play. Ties fall to the
other measure, then to the name.

Each list first groups the period's plays by key alone, then names only the rows
that can still make the list, so no query reads a whole dimension table.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Subquery,
    case,
    func,
    literal_column,
    null,
    select,
    true,
)

from weekly_wrapped.insights.models import Entry, OnRepeat
from weekly_wrapped.insights.stats.entries import SpotifyKind, entry
from weekly_wrapped.insights.stats.period import (
    Kinds,
    Period,
    Query,
    day_of_key,
    in_period,
    is_stream,
)
from weekly_wrapped.insights.stats.portable import json_array_strings
from weekly_wrapped.insights.stats.totals import count_where
from weekly_wrapped.warehouse.schema import (
    dim_album,
    dim_artist,
    dim_spelling,
    dim_track,
    fact_play,
)

TOP = 5
"""Entries in each top list."""


def _ms() -> ColumnElement[int]:
    return func.sum(fact_play.c.ms_played)


def _first_stream_at() -> ColumnElement[Any]:
    return func.min(case((is_stream(), fact_play.c.played_at_utc)))


def _played_track() -> ColumnElement[str]:
    """A track the user played: one with a Spotify id when there is one."""
    named_only = fact_play.c.track_key.like(literal_column("'n:%'"))
    with_id = func.min(case((~named_only, fact_play.c.track_key)))
    return func.coalesce(with_id, func.min(fact_play.c.track_key))


@cache
def song_totals(incognito: bool) -> Query:
    """One row per song played in the period: `key, streams, ms, first_stream_at, track_key`."""
    return (
        select(
            fact_play.c.song_key.label("key"),
            count_where(is_stream()).label("streams"),
            _ms().label("ms"),
            _first_stream_at().label("first_stream_at"),
            _played_track().label("track_key"),
        )
        .where(in_period(incognito))
        .group_by(fact_play.c.song_key)
    )


@cache
def artist_totals(incognito: bool, kinds: Kinds = "music") -> Query:
    """One row per artist (or show, for podcasts) played in the period, shaped as `song_totals`."""
    return (
        select(
            fact_play.c.artist_key.label("key"),
            count_where(is_stream()).label("streams"),
            _ms().label("ms"),
            _first_stream_at().label("first_stream_at"),
        )
        .where(in_period(incognito, kinds))
        .group_by(fact_play.c.artist_key)
    )


def ranked(
    totals: Subquery, order: list[ColumnElement[Any]], condition: ColumnElement[bool]
) -> Subquery:
    """`totals` meeting `condition`, each with its place in `order` and how many there are."""
    return (
        select(
            totals,
            func.rank().over(order_by=order).label("place"),
            func.count().over().label("total"),
        )
        .where(condition)
        .subquery()
    )


def by_streams(totals: Subquery) -> list[ColumnElement[Any]]:
    return [totals.c.streams.desc(), totals.c.ms.desc()]


def by_minutes(totals: Subquery) -> list[ColumnElement[Any]]:
    return [totals.c.ms.desc(), totals.c.streams.desc()]


def spelled(key: str, of: ColumnElement[str], incognito: bool, kinds: Kinds) -> Any:
    """The spelling the user's plays of `of` (a song, artist or album key) carried most
    in the period, then the latest: what the entry is called."""
    mine = fact_play.alias("spelled")
    return (
        select(mine.c.spelling_key)
        .where(in_period(incognito, kinds, mine), mine.c[key] == of)
        .group_by(mine.c.spelling_key)
        .order_by(func.count().desc(), func.max(mine.c.played_at_utc).desc(), mine.c.spelling_key)
        .limit(1)
        .scalar_subquery()
    )


Order = Callable[[Subquery], list[ColumnElement[Any]]]
"""The ranking order, over whichever subquery holds the ranked rows."""


def kept(places: Subquery, spelling: Any, limit: int) -> Subquery:
    """The rows placed up to `limit`, each with the key of the spelling that names it.

    Picking the spelling first lets the database fetch the few names by key; joined
    on the spelling expression itself, PostgreSQL hashed every spelling instead. The
    `OFFSET 0` keeps it from folding this subquery back into that join.
    """
    return (
        select(places, spelling.label("spelling_key"))
        .where(places.c.place <= limit)
        .offset(0)
        .subquery()
    )


def named_songs(
    places: Subquery, order: Order, limit: int, incognito: bool, extra: Sequence[str] = ()
) -> Query:
    """The first `limit` ranked songs, named as played, with their album art (and `extra`)."""
    top = kept(places, spelled("song_key", places.c.key, incognito, "music"), limit)
    name = dim_spelling.c.track_name
    return (
        select(
            name.label("name"),
            dim_spelling.c.artist_name.label("artist"),
            top.c.streams,
            top.c.ms,
            dim_album.c.image_url,
            dim_track.c.spotify_id,
            top.c.total,
            *(top.c[column] for column in extra),
        )
        .select_from(
            top.join(dim_track, dim_track.c.track_key == top.c.track_key)
            .join(dim_spelling, dim_spelling.c.spelling_key == top.c.spelling_key)
            .outerjoin(dim_album, dim_album.c.album_key == dim_track.c.album_key)
        )
        .order_by(*order(top), name, top.c.key)
        .limit(limit)
    )


def named_artists(
    places: Subquery, order: Order, limit: int, incognito: bool, kinds: Kinds = "music"
) -> Query:
    """The first `limit` ranked artists (or shows), named as played, with their picture."""
    top = kept(places, spelled("artist_key", places.c.key, incognito, kinds), limit)
    name = dim_spelling.c.artist_name
    return (
        select(
            name.label("name"),
            null().label("artist"),
            top.c.streams,
            top.c.ms,
            dim_artist.c.image_url,
            dim_artist.c.spotify_id,
            top.c.total,
        )
        .select_from(
            top.join(dim_spelling, dim_spelling.c.spelling_key == top.c.spelling_key).outerjoin(
                dim_artist, dim_artist.c.artist_key == top.c.key
            )
        )
        .order_by(*order(top), name, top.c.key)
        .limit(limit)
    )


@cache
def _top_tracks(incognito: bool) -> Query:
    songs = song_totals(incognito).subquery()
    places = ranked(songs, by_streams(songs), songs.c.streams > 0)
    return named_songs(places, by_streams, TOP, incognito)


def top_tracks(conn: Connection, period: Period) -> list[Entry]:
    """The most streamed songs; ties go to more minutes."""
    return _entries(conn, _top_tracks(period.include_incognito), period, "track")


@cache
def _top_artists(incognito: bool, kinds: Kinds) -> Query:
    artists = artist_totals(incognito, kinds).subquery()
    places = ranked(artists, by_minutes(artists), true())
    return named_artists(places, by_minutes, TOP, incognito, kinds)


def top_artists(conn: Connection, period: Period) -> list[Entry]:
    """The artists listened to longest; ties go to more streams."""
    return _entries(conn, _top_artists(period.include_incognito, "music"), period, "artist")


def top_shows(conn: Connection, period: Period) -> list[Entry]:
    """The podcast shows listened to longest."""
    return _entries(conn, _top_artists(period.include_incognito, "podcasts"), period, "show")


def _entries(
    conn: Connection, query: Query, period: Period, kind: SpotifyKind | None
) -> list[Entry]:
    return [entry(row, kind) for row in conn.execute(query, period.params())]


@cache
def _top_albums(incognito: bool) -> Query:
    albums = (
        select(
            fact_play.c.album_key.label("key"),
            count_where(is_stream()).label("streams"),
            _ms().label("ms"),
        )
        .where(in_period(incognito), fact_play.c.album_key.is_not(None))
        .group_by(fact_play.c.album_key)
        .subquery()
    )
    places = ranked(albums, by_minutes(albums), true())
    top = kept(places, spelled("album_key", places.c.key, incognito, "music"), TOP)
    name = dim_spelling.c.album_name
    return (
        select(
            name.label("name"),
            dim_spelling.c.artist_name.label("artist"),
            top.c.streams,
            top.c.ms,
            dim_album.c.image_url,
            dim_album.c.spotify_id,
        )
        .select_from(
            top.join(dim_spelling, dim_spelling.c.spelling_key == top.c.spelling_key).outerjoin(
                dim_album, dim_album.c.album_key == top.c.key
            )
        )
        .order_by(*by_minutes(top), name, top.c.key)
        .limit(TOP)
    )


def top_albums(conn: Connection, period: Period) -> list[Entry]:
    """The albums listened to longest, each with the artist of its plays."""
    return _entries(conn, _top_albums(period.include_incognito), period, "album")


@cache
def _top_genres(incognito: bool) -> Query:
    artists = artist_totals(incognito).subquery()
    genre = json_array_strings(dim_artist.c.genres).table_valued("value").alias("genre")
    ms, streams = func.sum(artists.c.ms), func.sum(artists.c.streams)
    return (
        select(
            genre.c.value.label("name"),
            null().label("artist"),
            streams.label("streams"),
            ms.label("ms"),
            null().label("image_url"),
            null().label("spotify_id"),
        )
        .select_from(
            artists.join(dim_artist, dim_artist.c.artist_key == artists.c.key).join(genre, true())
        )
        .group_by(genre.c.value)
        .order_by(ms.desc(), streams.desc(), genre.c.value)
        .limit(TOP)
    )


def top_genres(conn: Connection, period: Period) -> list[Entry]:
    """Genres by the minutes of plays whose primary artist has them; empty while unknown."""
    return _entries(conn, _top_genres(period.include_incognito), period, None)


@cache
def _artist_ms(incognito: bool) -> Query:
    ms = _ms()
    return (
        select(ms).where(in_period(incognito)).group_by(fact_play.c.artist_key).order_by(ms.desc())
    )


def artist_ms(conn: Connection, period: Period) -> list[int]:
    """Milliseconds per artist, largest first: what shares and diversity are made of."""
    rows = conn.execute(_artist_ms(period.include_incognito), period.params())
    return [int(value) for value in rows.scalars()]


@cache
def _on_repeat(incognito: bool) -> Query:
    days = (
        select(
            fact_play.c.local_date_key,
            fact_play.c.song_key.label("key"),
            func.count().label("streams"),
            _ms().label("ms"),
            _played_track().label("track_key"),
        )
        .where(in_period(incognito), is_stream())
        .group_by(fact_play.c.local_date_key, fact_play.c.song_key)
        .having(func.count() >= literal_column("2"))
        .subquery()
    )
    order = [*by_streams(days), days.c.local_date_key]
    places = ranked(days, order, true())
    return named_songs(
        places, lambda top: [*by_streams(top), top.c.local_date_key], 1, incognito,
        extra=["local_date_key"],
    )  # fmt: skip


def on_repeat(conn: Connection, period: Period) -> OnRepeat | None:
    """The most streams of one song on one day, when some song was streamed twice that day."""
    row = conn.execute(_on_repeat(period.include_incognito), period.params()).one_or_none()
    if row is None:
        return None
    day = day_of_key(int(row.local_date_key))
    return OnRepeat(name=row.name, artist=row.artist, plays=int(row.streams), day=day)

"""What enrichment has left to do: name-only keys to search for, details never fetched.

Each list skips what `spotify_lookup` says was looked up already, found or not, and
puts the most-played first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Select, and_, exists, func, or_, select

from weekly_wrapped.warehouse.schema import (
    bridge_track_artist,
    dim_album,
    dim_artist,
    dim_track,
    fact_play,
    spotify_lookup,
)

FOUND = "found"
"""`spotify_lookup.outcome` when Spotify had it (its id is in `spotify_id`)."""


@dataclass(frozen=True)
class NamedTrack:
    """A track known only by name, with what search needs."""

    track_key: str
    name: str
    artist: str
    song_key: str


def _looked_up(entity: str, key: Any) -> Any:
    lookup = spotify_lookup.c
    return exists().where(lookup.entity == entity, lookup.entity_key == key)


def _played(user_key: int | None) -> Any:
    """Plays that count: music, stored (not merged away), of one user when given."""
    where = [fact_play.c.kind == "track"]
    if user_key is not None:
        where.append(fact_play.c.user_key == user_key)
    return and_(*where)


def named_tracks(conn: Connection, user_key: int | None, limit: int) -> list[NamedTrack]:
    """Name-only tracks never searched for, most played first."""
    query = (
        select(dim_track.c.track_key, dim_track.c.name, dim_artist.c.name, dim_track.c.song_key)
        .select_from(fact_play)
        .join(dim_track, dim_track.c.track_key == fact_play.c.track_key)
        .join(dim_artist, dim_artist.c.artist_key == fact_play.c.artist_key)
        .where(
            _played(user_key),
            fact_play.c.track_key.startswith("n:"),
            ~_looked_up("track", fact_play.c.track_key),
        )
        .group_by(dim_track.c.track_key, dim_track.c.name, dim_artist.c.name, dim_track.c.song_key)
        .order_by(func.count().desc(), dim_track.c.track_key)
        .limit(limit)
    )
    return [NamedTrack(*row) for row in conn.execute(query)]


def named_artists(conn: Connection, user_key: int | None, limit: int) -> list[tuple[str, str]]:
    """(key, name) of name-only artists never searched for, most played first."""
    plays = func.count().label("plays")
    query = (
        select(dim_artist.c.artist_key, dim_artist.c.name, plays)
        .select_from(fact_play)
        .join(dim_artist, dim_artist.c.artist_key == fact_play.c.artist_key)
        .where(
            _played(user_key),
            fact_play.c.artist_key.startswith("n:"),
            ~_looked_up("artist", fact_play.c.artist_key),
        )
        .group_by(dim_artist.c.artist_key, dim_artist.c.name)
        .order_by(plays.desc(), dim_artist.c.artist_key)
        .limit(limit)
    )
    return [(row.artist_key, row.name) for row in conn.execute(query)]


def known_matches(conn: Connection, entity: str, user_key: int | None) -> list[tuple[str, str]]:
    """(n: key, Spotify id) of name-only keys with plays that an earlier search resolved."""
    column = fact_play.c.track_key if entity == "track" else fact_play.c.artist_key
    lookup = spotify_lookup.c
    query = (
        select(lookup.entity_key, lookup.spotify_id)
        .where(
            lookup.entity == entity,
            lookup.outcome == FOUND,
            lookup.entity_key.startswith("n:"),
            exists().where(_played(user_key), column == lookup.entity_key),
        )
        .order_by(lookup.entity_key)
    )
    return [(row.entity_key, row.spotify_id) for row in conn.execute(query)]


def tracks_missing_details(conn: Connection, user_key: int | None, limit: int) -> list[str]:
    """Ids of tracks whose album or artists we know only by name, or whose length is unknown."""
    track = dim_track.c
    named_artist = exists().where(
        bridge_track_artist.c.track_key == track.track_key,
        bridge_track_artist.c.artist_key.startswith("n:"),
    )
    query = _with_plays(
        select(track.spotify_id).where(
            track.spotify_id.is_not(None),
            track.kind == "track",
            or_(
                track.album_key.is_(None),
                track.album_key.startswith("n:"),
                track.duration_ms.is_(None),
                named_artist,
            ),
            ~_looked_up("track", track.track_key),
        ),
        fact_play.c.track_key == track.track_key,
        user_key,
    )
    return list(conn.execute(query.order_by(track.spotify_id).limit(limit)).scalars())


def artists_missing_details(conn: Connection, user_key: int | None, limit: int) -> list[str]:
    """Ids of artists without genres or a picture, never fetched."""
    artist = dim_artist.c
    query = select(artist.spotify_id).where(
        artist.spotify_id.is_not(None),
        or_(artist.genres.is_(None), artist.image_url.is_(None)),
        ~_looked_up("artist", artist.artist_key),
    )
    if user_key is not None:
        query = query.where(
            exists()
            .select_from(
                fact_play.join(
                    bridge_track_artist, bridge_track_artist.c.track_key == fact_play.c.track_key
                )
            )
            .where(
                fact_play.c.user_key == user_key,
                bridge_track_artist.c.artist_key == artist.artist_key,
            )
        )
    return list(conn.execute(query.order_by(artist.spotify_id).limit(limit)).scalars())


def albums_missing_details(conn: Connection, user_key: int | None, limit: int) -> list[str]:
    """Ids of albums without a release date or cover art, never fetched."""
    album = dim_album.c
    query = _with_plays(
        select(album.spotify_id).where(
            album.spotify_id.is_not(None),
            or_(album.release_date.is_(None), album.image_url.is_(None)),
            ~_looked_up("album", album.album_key),
        ),
        fact_play.c.album_key == album.album_key,
        user_key,
    )
    return list(conn.execute(query.order_by(album.spotify_id).limit(limit)).scalars())


def _with_plays(query: Select[Any], link: Any, user_key: int | None) -> Select[Any]:
    if user_key is None:
        return query
    return query.where(exists().where(fact_play.c.user_key == user_key, link))

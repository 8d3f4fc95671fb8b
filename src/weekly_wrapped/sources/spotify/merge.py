"""Enrichment's writes: what Spotify told us, into the dimensions and the plays.

Merging a name-only (``n:``) track or artist into its Spotify id repoints its plays
(in `fact_play` and `fact_play_merged`) and its bridge rows, then drops the ``n:`` rows
nothing refers to any more. Play ids never change, so no play is counted twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import (
    Connection,
    delete,
    exists,
    insert,
    literal,
    select,
    update,
)

from weekly_wrapped.rows import AlbumRow, ArtistRow, BridgeRow, Rows
from weekly_wrapped.sources.spotify.backlog import FOUND
from weekly_wrapped.sources.spotify.parse import CatalogTrack
from weekly_wrapped.warehouse.schema import (
    bridge_track_artist,
    dim_album,
    dim_artist,
    dim_track,
    fact_play,
    fact_play_merged,
    spotify_lookup,
)
from weekly_wrapped.warehouse.upsert import upsert
from weekly_wrapped.warehouse.writer import write_dimensions

FACTS = (fact_play, fact_play_merged)
NOT_FOUND = "not_found"
"""`spotify_lookup.outcome` when Spotify had nothing usable."""


def record_lookup(
    conn: Connection, entity: str, key: str, spotify_id: str | None, now: datetime
) -> None:
    """Remember a lookup, found or not, so it is never made again."""
    values = {
        "entity": entity,
        "entity_key": key,
        "spotify_id": spotify_id,
        "outcome": FOUND if spotify_id is not None else NOT_FOUND,
        "looked_up_at": now,
    }
    upsert(conn, spotify_lookup, values, keys=("entity", "entity_key"))


def resolve_track(
    conn: Connection, named_key: str, found: CatalogTrack | None, now: datetime
) -> None:
    """What a search for a name-only track found: merge it into the Spotify track, or note none."""
    if found is None:
        record_lookup(conn, "track", named_key, None, now)
        return
    real_key = found.track.track_key
    store_track(conn, found)
    move_track(conn, named_key, real_key)
    record_lookup(conn, "track", named_key, real_key, now)
    # Search answers full track objects: no need to fetch this one again.
    record_lookup(conn, "track", real_key, real_key, now)


def resolve_artist(
    conn: Connection, named_key: str, found: ArtistRow | None, now: datetime
) -> None:
    """What a search for a name-only artist found: merge it into the Spotify artist, or note none."""
    if found is None:
        record_lookup(conn, "artist", named_key, None, now)
        return
    store_artist(conn, found)
    move_artist(conn, named_key, found.artist_key)
    record_lookup(conn, "artist", named_key, found.artist_key, now)
    # Search answers full artist objects (genres, pictures): no need to fetch it again.
    record_lookup(conn, "artist", found.artist_key, found.artist_key, now)


def store_track(conn: Connection, found: CatalogTrack) -> None:
    """Write a TrackObject's rows; it is the authority on its album and artists."""
    key = found.track.track_key
    stale = _keys_around(conn, [key])
    conn.execute(delete(bridge_track_artist).where(bridge_track_artist.c.track_key == key))
    rows = Rows()
    if found.album is not None:
        rows.albums[found.album.album_key] = found.album
    for position, artist in enumerate(found.artists):
        rows.artists.setdefault(artist.artist_key, artist)
        rows.bridges.setdefault(
            (key, artist.artist_key), BridgeRow(key, artist.artist_key, position)
        )
    rows.tracks[key] = found.track
    write_dimensions(conn, rows)
    if found.album is not None:
        conn.execute(
            update(dim_track)
            .where(dim_track.c.track_key == key)
            .values(album_key=found.album.album_key)
        )
    _align_plays(conn, key, found.artists[0].artist_key, found.track.album_key)
    prune(conn, *stale)


def move_track(conn: Connection, old_key: str, new_key: str) -> None:
    """Every play of the name-only track `old_key` becomes a play of `new_key` (stored already)."""
    stale = _keys_around(conn, [old_key])
    for table in FACTS:
        conn.execute(update(table).where(table.c.track_key == old_key).values(track_key=new_key))
    conn.execute(delete(bridge_track_artist).where(bridge_track_artist.c.track_key == old_key))
    conn.execute(delete(dim_track).where(dim_track.c.track_key == old_key))
    primary = conn.execute(
        select(bridge_track_artist.c.artist_key)
        .where(bridge_track_artist.c.track_key == new_key)
        .order_by(bridge_track_artist.c.position)
        .limit(1)
    ).scalar_one()
    album = conn.execute(
        select(dim_track.c.album_key).where(dim_track.c.track_key == new_key)
    ).scalar_one()
    _align_plays(conn, new_key, primary, album)
    prune(conn, *stale)


def store_artist(conn: Connection, artist: ArtistRow) -> None:
    """Write an ArtistObject's row, filling what was unknown."""
    rows = Rows()
    rows.artists[artist.artist_key] = artist
    write_dimensions(conn, rows)


def store_album(conn: Connection, album: AlbumRow) -> None:
    rows = Rows()
    rows.albums[album.album_key] = album
    write_dimensions(conn, rows)


def move_artist(conn: Connection, old_key: str, new_key: str) -> None:
    """The name-only artist `old_key` is `new_key` (stored already): repoint plays and bridges."""
    for table in FACTS:
        conn.execute(update(table).where(table.c.artist_key == old_key).values(artist_key=new_key))
    bridge = bridge_track_artist
    other = bridge.alias("other")
    conn.execute(
        insert(bridge).from_select(
            ["track_key", "artist_key", "position"],
            select(bridge.c.track_key, literal(new_key), bridge.c.position).where(
                bridge.c.artist_key == old_key,
                ~exists().where(
                    other.c.track_key == bridge.c.track_key, other.c.artist_key == new_key
                ),
            ),
        )
    )
    conn.execute(delete(bridge).where(bridge.c.artist_key == old_key))
    prune(conn, [old_key], [])


def _align_plays(conn: Connection, track_key: str, artist_key: str, album_key: str | None) -> None:
    """Plays of a track carry its primary artist and album, as the dimensions now say."""
    for table in FACTS:
        conn.execute(
            update(table)
            .where(table.c.track_key == track_key)
            .values(artist_key=artist_key, album_key=album_key)
        )


def _keys_around(conn: Connection, track_keys: Sequence[str]) -> tuple[list[str], list[str]]:
    """The artist and album keys that plays and bridges of these tracks use now."""
    artists: set[str] = set()
    albums: set[str] = set()
    for table in FACTS:
        rows = conn.execute(
            select(table.c.artist_key, table.c.album_key)
            .where(table.c.track_key.in_(track_keys))
            .distinct()
        )
        for row in rows:
            artists.add(row.artist_key)
            albums.update([row.album_key] if row.album_key else [])
    bridged = select(bridge_track_artist.c.artist_key).where(
        bridge_track_artist.c.track_key.in_(track_keys)
    )
    artists.update(conn.execute(bridged).scalars())
    albums.update(
        a
        for a in conn.execute(
            select(dim_track.c.album_key).where(dim_track.c.track_key.in_(track_keys))
        ).scalars()
        if a
    )
    return sorted(artists), sorted(albums)


def prune(conn: Connection, artist_keys: Iterable[str], album_keys: Iterable[str]) -> None:
    """Drop name-only artists and albums among these that nothing refers to any more."""
    named_artists = [k for k in artist_keys if k.startswith("n:")]
    if named_artists:
        conn.execute(
            delete(dim_artist).where(
                dim_artist.c.artist_key.in_(named_artists),
                *(~exists().where(t.c.artist_key == dim_artist.c.artist_key) for t in FACTS),
                ~exists().where(bridge_track_artist.c.artist_key == dim_artist.c.artist_key),
            )
        )
    named_albums = [k for k in album_keys if k.startswith("n:")]
    if named_albums:
        conn.execute(
            delete(dim_album).where(
                dim_album.c.album_key.in_(named_albums),
                *(~exists().where(t.c.album_key == dim_album.c.album_key) for t in FACTS),
                ~exists().where(dim_track.c.album_key == dim_album.c.album_key),
            )
        )

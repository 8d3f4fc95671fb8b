"""Build PlayEvents for tests, with real identity keys."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Table, select

from weekly_wrapped import identity
from weekly_wrapped.events import AlbumRef, ArtistRef, Extras, PlayEvent, ShowRef, TrackRef


def play(
    user_id: int,
    played_at: datetime,
    *,
    artist: str = "Nova Lane",
    title: str = "Harbour Lights",
    ms_played: int | None = 200_000,
    source: str = "manual",
    track_id: str | None = None,
    artist_id: str | None = None,
    album: str | None = "Tidal",
    duration_ms: int | None = 210_000,
    n: int = 0,
    precision: str = "s",
    **extras: Any,
) -> PlayEvent:
    """One track play; keys and event id computed as the real sources do."""
    song = identity.song_key(artist, title)
    return PlayEvent(
        event_id=identity.event_id(user_id, source, played_at, song, ms_played, n),
        user_id=user_id,
        played_at=played_at,
        time_precision=precision,  # type: ignore[arg-type]
        ms_played=ms_played,
        source=source,  # type: ignore[arg-type]
        kind="track",
        track=TrackRef(
            id=track_id,
            uri=f"spotify:track:{track_id}" if track_id else None,
            name=title,
            duration_ms=duration_ms,
            album=AlbumRef(name=album) if album else None,
            artists=[ArtistRef(id=artist_id, name=artist)],
        ),
        extras=Extras(**extras),
    )


def episode(
    user_id: int,
    played_at: datetime,
    *,
    show: str = "The Long Listen",
    title: str = "Episode 12: Tape Hiss",
    ms_played: int = 1_500_000,
) -> PlayEvent:
    song = identity.song_key(show, title)
    return PlayEvent(
        event_id=identity.event_id(user_id, "manual", played_at, song, ms_played),
        user_id=user_id,
        played_at=played_at,
        ms_played=ms_played,
        source="manual",
        kind="episode",
        track=TrackRef(name=title, show=ShowRef(name=show)),
    )


def extended_row(
    ts: str,
    ms_played: int = 200_000,
    *,
    title: str = "Harbour Lights",
    artist: str = "Nova Lane",
    album: str = "Tidal",
    uri: str | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """A row of Spotify's extended streaming history, every field as the export writes it."""
    return {
        "ts": ts,
        "platform": "osx",
        "ms_played": ms_played,
        "conn_country": "DE",
        "master_metadata_track_name": title,
        "master_metadata_album_artist_name": artist,
        "master_metadata_album_album_name": album,
        "spotify_track_uri": uri,
        "episode_name": None,
        "episode_show_name": None,
        "spotify_episode_uri": None,
        "reason_start": "trackdone",
        "reason_end": "trackdone",
        "shuffle": False,
        "skipped": False,
        "offline": False,
        "incognito_mode": False,
    } | fields


def snapshot(engine: Engine, tables: Iterable[Table]) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of `tables`, comparable across runs and backends (times in UTC)."""
    from weekly_wrapped.warehouse.queries import as_utc

    with engine.connect() as conn:
        return {
            table.name: sorted(
                tuple(as_utc(v) if isinstance(v, datetime) else v for v in row)
                for row in conn.execute(select(table))
            )
            for table in tables
        }

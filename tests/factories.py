"""Build PlayEvents for tests, with real identity keys."""

from __future__ import annotations

from datetime import datetime
from typing import Any

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

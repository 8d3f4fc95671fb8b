"""How numbers and list entries leave the database: rounded once, linked where Spotify knows them.

Queries add up milliseconds as integers; only here do they become minutes (one
decimal) and shares (three decimals), so every total is rounded exactly once.
"""

from __future__ import annotations

from typing import Any, Literal

from sqlalchemy import Row

from weekly_wrapped.insights.models import Entry

SpotifyKind = Literal["track", "artist", "album", "show"]


def to_minutes(ms: int | float) -> float:
    """Milliseconds → minutes, one decimal."""
    return round(ms / 60_000, 1)


def share(part: int | float, whole: int | float) -> float:
    """`part` as a share of `whole`, three decimals; 0 when there is no whole."""
    return round(part / whole, 3) if whole > 0 else 0.0


def spotify_url(kind: SpotifyKind, spotify_id: str | None) -> str | None:
    """The open.spotify.com page of a real Spotify id; None for name-only items."""
    return f"https://open.spotify.com/{kind}/{spotify_id}" if spotify_id else None


def entry(row: Row[Any], kind: SpotifyKind | None) -> Entry:
    """An entry from a ranking row with `name, artist, streams, ms, image_url, spotify_id`."""
    return Entry(
        name=row.name,
        artist=row.artist,
        streams=int(row.streams),
        minutes=to_minutes(int(row.ms)),
        image_url=row.image_url,
        spotify_url=spotify_url(kind, row.spotify_id) if kind is not None else None,
    )

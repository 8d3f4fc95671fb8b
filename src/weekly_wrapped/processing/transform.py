"""The pure transform: PlayEvents → warehouse rows (DESIGN §5).

An event is a `PlayEvent` (our own sources) or a `WirePlay` (a message from outside,
read by msgspec): the same fields under the same names, so one transform takes both.

No I/O here. Both engines (embedded and Spark) call `transform`, so both write
the same rows for the same input. What the transform needs from the warehouse
(each user's timezone, the end of each user's previous play) comes in `Context`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple, TypeVar
from zoneinfo import ZoneInfo

import orjson

from weekly_wrapped import identity
from weekly_wrapped.events import Play
from weekly_wrapped.rows import (
    SPOTIFY_BEGAN,
    AlbumRow,
    ArtistRow,
    BridgeRow,
    PlayKeys,
    PlayRow,
    Rejected,
    Rows,
    SpellingRow,
    TrackRow,
    date_row,
    local_slot,
)

UNKNOWN_DURATION_GUESS_MS = 180_000
"""Estimate for an API play with no duration and no previous play to measure from."""


@dataclass(frozen=True)
class Context:
    """What the transform needs to know about users, read from the warehouse."""

    timezones: dict[int, str]
    previous_end: dict[int, datetime] = field(default_factory=dict)
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    max_future_skew: timedelta = timedelta(minutes=5)


def transform(events: Iterable[Play], context: Context) -> Rows:
    """Turn events into rows; events that break a processing rule land in `rows.rejected`."""
    rows = Rows()
    zones: dict[int, ZoneInfo | None] = {}
    accepted = [e for e in events if _accept(e, context, zones, rows)]
    estimates = estimate_ms_played(accepted, context.previous_end)
    for event in accepted:
        zone = zones[event.user_id]
        assert zone is not None  # noqa: S101 - `_accept` rejected unknown zones
        keys = _add_dimensions(event, rows)
        rows.plays.append(_play_row(event, zone, estimates.get(event.event_id), keys, rows))
    return rows


def _accept(event: Play, context: Context, zones: dict[int, ZoneInfo | None], rows: Rows) -> bool:
    reason = _rejection_reason(event, context, zones)
    if reason is None:
        return True
    rows.rejected.append(
        Rejected(reason, event.to_json().decode("utf-8"), event.user_id, event.event_id)
    )
    return False


def _rejection_reason(
    event: Play, context: Context, zones: dict[int, ZoneInfo | None]
) -> str | None:
    if event.user_id not in context.timezones:
        return f"unknown user_id {event.user_id}"
    if event.user_id not in zones:
        zones[event.user_id] = _zone(context.timezones[event.user_id])
    if zones[event.user_id] is None:
        return f"unknown timezone {context.timezones[event.user_id]!r} for user {event.user_id}"
    if event.played_at < SPOTIFY_BEGAN:
        return f"played_at {event.played_at.isoformat()} is before 2006, when Spotify began"
    if event.played_at - context.now > context.max_future_skew:  # a sum could overflow
        return f"played_at {event.played_at.isoformat()} is in the future"
    return None


def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ValueError, KeyError, OSError):
        return None


class Timed(NamedTuple):
    """A play as the ms_played estimate sees it."""

    play_id: str
    played_at: datetime
    duration_ms: int | None
    needs_estimate: bool


def estimate_ms_played(events: Sequence[Play], previous_end: dict[int, datetime]) -> dict[str, int]:
    """Estimate `ms_played` for plays without it (API polls); estimates by event id."""
    if all(e.ms_played is not None for e in events):
        return {}
    estimates: dict[str, int] = {}
    by_user: dict[int, list[Timed]] = {}
    for e in events:
        timed = Timed(e.event_id, e.played_at, e.track.duration_ms, e.ms_played is None)
        by_user.setdefault(e.user_id, []).append(timed)
    for user_id, plays in by_user.items():
        estimates.update(estimate_gaps(plays, previous_end.get(user_id)))
    return estimates


def estimate_gaps(plays: Iterable[Timed], previous_end: datetime | None) -> dict[str, int]:
    """min(track duration, time since the previous play ended), for one user's plays.

    The API reports only when each play ended, so the gap to the previous end is
    the most a play can have lasted.
    """
    estimates: dict[str, int] = {}
    last_end = previous_end
    for play in sorted(plays, key=lambda p: (p.played_at, p.play_id)):
        if play.needs_estimate:
            estimates[play.play_id] = _estimate(play, last_end)
        last_end = play.played_at
    return estimates


def _estimate(play: Timed, previous: datetime | None) -> int:
    duration = play.duration_ms if play.duration_ms is not None else UNKNOWN_DURATION_GUESS_MS
    if previous is None or previous >= play.played_at:
        return duration
    return min((play.played_at - previous) // timedelta(milliseconds=1), duration)


def _add_dimensions(event: Play, rows: Rows) -> PlayKeys:
    """Add the event's track, album, artists and spelling to `rows`; return the play's keys.

    The keys come from the play's own names (DESIGN §3): a track id that Spotify
    renamed over the years links plays of different names to one catalogue track,
    but never lends one play's artist or title to another.
    """
    track = event.track
    album = track.album
    names = (track.id, track.name, event.performer, album.name if album else None, event.kind)
    seen = rows.named.get(names)
    if seen is not None and (seen[0] is track or seen[0] == track):
        return seen[1]
    made = _MADE.get(names)
    if made is None or not (made.track is track or made.track == track):
        if len(_MADE) >= _MADE_LIMIT:
            _MADE.clear()
        made = _MADE[names] = _dimensions_of(event)
    made.add_to(rows)
    rows.named[names] = (track, made.keys)
    return made.keys


class _Dimensions(NamedTuple):
    """What one track's names make: its keys and dimension rows (a pure function of them)."""

    track: Any
    keys: PlayKeys
    album: AlbumRow | None
    track_row: TrackRow
    artists: tuple[ArtistRow, ...]
    spelling: SpellingRow

    def add_to(self, rows: Rows) -> None:
        key = self.track_row.track_key
        if self.album is not None:
            album_key = self.album.album_key
            rows.albums[album_key] = merge_dimension(rows.albums.get(album_key), self.album)
        rows.tracks[key] = merge_dimension(rows.tracks.get(key), self.track_row)
        for position, artist in enumerate(self.artists):
            artist_key = artist.artist_key
            rows.artists[artist_key] = merge_dimension(rows.artists.get(artist_key), artist)
            rows.bridges.setdefault((key, artist_key), BridgeRow(key, artist_key, position))
        rows.spellings[self.spelling.spelling_key] = self.spelling


_MADE: dict[tuple[Any, ...], _Dimensions] = {}
"""The dimensions of tracks seen in earlier batches: a stream plays the same few again."""
_MADE_LIMIT = 32_768
"""About 1.3 KB each: at most some 45 MB, and more than most lifetimes' distinct tracks."""


def _dimensions_of(event: Play) -> _Dimensions:
    track = event.track
    song = event.song_key
    key = track.id or "n:" + song
    performers = _performers(event)
    album_key = None
    album = None
    if track.album is not None:
        a = track.album
        album_key = identity.album_key(a.id, performers[0][2], a.name)
        album = AlbumRow(album_key, a.id, a.name, a.release_date, None, a.image_url)
    row = TrackRow(
        key,
        track.id,
        song,
        track.name,
        event.kind,
        track.duration_ms,
        track.explicit,
        track.isrc,
        album_key,
    )
    artists = tuple(
        ArtistRow(k, spotify_id, name, None, None) for k, spotify_id, name in performers
    )
    spelling = spelling_row(track.name, performers[0][2], track.album.name if track.album else None)
    keys = PlayKeys(key, performers[0][0], album_key, song, spelling.spelling_key)
    return _Dimensions(track, keys, album, row, artists, spelling)


def spelling_row(track_name: str, artist_name: str, album_name: str | None) -> SpellingRow:
    """The spelling of a play's names, keyed by a hash of their exact text."""
    return SpellingRow(
        identity.spelling_key(track_name, artist_name, album_name),
        track_name,
        artist_name,
        album_name,
    )


DimensionRow = TypeVar("DimensionRow", ArtistRow, AlbumRow, TrackRow)


def merge_dimension(known: DimensionRow | None, new: DimensionRow) -> DimensionRow:
    """The warehouse's rule for two rows of one key: fill nulls, keep the smallest name.

    The writers apply the same rule in SQL, so the stored row never depends on
    which play arrived first.
    """
    if known is None or known == new:
        return new
    fills: dict[str, Any] = {
        field: value
        for field, value in zip(new._fields, new, strict=True)
        if value is not None and getattr(known, field) is None
    }
    if new.name < known.name:
        fills["name"] = new.name
    return known._replace(**fills) if fills else known


def _performers(event: Play) -> list[tuple[str, str | None, str]]:
    show = event.track.show
    if event.kind != "track" and show is not None:
        return [(identity.show_key(show.id, show.name), show.id, show.name)]
    return [(identity.artist_key(a.id, a.name), a.id, a.name) for a in event.track.artists]


def _play_row(
    event: Play, zone: ZoneInfo, estimate: int | None, keys: PlayKeys, rows: Rows
) -> PlayRow:
    date_key, local_hour = local_slot(event.played_at, zone)
    if date_key not in rows.dates:
        rows.dates[date_key] = date_row(event.played_at.astimezone(zone).date())
    extras = event.extras
    ms_played = event.ms_played if estimate is None else estimate
    assert ms_played is not None  # noqa: S101 - estimated whenever it was unknown
    # Positional: this runs once per play, on the hot path of every import.
    return PlayRow(
        event.event_id,
        event.user_id,
        keys.track_key,
        keys.artist_key,
        keys.album_key,
        keys.song_key,
        event.played_at,
        event.time_precision,
        date_key,
        local_hour,
        ms_played,
        estimate is not None,
        event.source,
        event.kind,
        event.context.uri if event.context is not None else None,
        extras.reason_start,
        extras.reason_end,
        extras.skipped,
        extras.shuffle,
        extras.offline,
        bool(extras.incognito),
        keys.spelling_key,
    )


def rejected_from_raw(raw: Any, reason: str) -> Rejected:
    """A quarantine row for a message that never became a Play."""
    if isinstance(raw, bytes):
        payload = raw.decode("utf-8", errors="replace")
    elif isinstance(raw, str):
        payload = raw
    else:
        payload = orjson.dumps(raw, default=str).decode()
    return Rejected(reason, payload)

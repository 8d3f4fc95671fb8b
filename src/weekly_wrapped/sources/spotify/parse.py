"""Spotify's JSON → our types. Every field may be missing (development mode drops several).

Pure: no I/O. A recently-played item that cannot become a PlayEvent (no track name,
no artist) comes back as a `Rejected` with its reason, for the quarantine.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import ValidationError

from weekly_wrapped import identity
from weekly_wrapped.events import (
    AlbumRef,
    ArtistRef,
    Context,
    PlayEvent,
    TrackRef,
    describe_validation_error,
)
from weekly_wrapped.rows import AlbumRow, ArtistRow, Rejected, TrackRow, genres_json
from weekly_wrapped.sources.names import visible_name

Json = dict[str, Any]


class Unusable(ValueError):
    """An item we cannot turn into a play; the message says why."""


def text(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def whole(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def flag(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def mapping(value: Any) -> Json:
    return value if isinstance(value, dict) else {}


def first_image(thing: Json) -> str | None:
    """The URL of the widest image (Spotify lists them widest first)."""
    images = thing.get("images")
    if isinstance(images, list) and images:
        return text(mapping(images[0]).get("url"))
    return None


def artist_refs(values: Any) -> list[ArtistRef]:
    artists = values if isinstance(values, list) else []
    return [
        ArtistRef(id=text(a.get("id")), name=artist)
        for a in map(mapping, artists)
        if (artist := visible_name(a.get("name")))
    ]


def album_ref(value: Any) -> AlbumRef | None:
    album = mapping(value)
    title = visible_name(album.get("name"))
    if title is None:
        return None
    return AlbumRef(
        id=text(album.get("id")),
        name=title,
        release_date=text(album.get("release_date")),
        image_url=first_image(album),
    )


def track_ref(value: Any) -> TrackRef:
    """A TrackObject as our `TrackRef`; raises `Unusable` without a name or an artist."""
    track = mapping(value)
    title = visible_name(track.get("name"))
    artists = artist_refs(track.get("artists"))
    if title is None:
        raise Unusable("the track has no name")
    if not artists:
        raise Unusable(f"track {title!r} has no named artist")
    uri = text(track.get("uri"))
    return TrackRef(
        id=text(track.get("id")),
        uri=uri if identity.spotify_id_from_uri(uri) else None,
        name=title,
        duration_ms=whole(track.get("duration_ms")),
        explicit=flag(track.get("explicit")),
        isrc=text(mapping(track.get("external_ids")).get("isrc")),
        album=album_ref(track.get("album")),
        artists=artists,
    )


def played_at(value: Any) -> datetime:
    """Spotify's ``2026-11-20T10:15:30.123Z`` as an aware UTC datetime."""
    stamp = text(value)
    if stamp is None:
        raise Unusable("the play has no played_at")
    try:
        parsed = datetime.fromisoformat(stamp)
    except ValueError:
        raise Unusable(f"played_at {stamp!r} is not a timestamp") from None
    if parsed.tzinfo is None:
        raise Unusable(f"played_at {stamp!r} has no timezone")
    return parsed.astimezone(UTC)


def context_of(value: Any) -> Context | None:
    context = mapping(value)
    kind = text(context.get("type"))
    return None if kind is None else Context(type=kind, uri=text(context.get("uri")))


def play_events(user_key: int, items: list[Any]) -> tuple[list[PlayEvent], list[Rejected]]:
    """A recently-played page as PlayEvents (source ``api``, no ms_played), oldest first."""
    events: list[PlayEvent] = []
    rejected: list[Rejected] = []
    repeats: Counter[tuple[str, str]] = Counter()
    for item in sorted(map(mapping, items), key=lambda i: str(i.get("played_at"))):
        try:
            events.append(_play_event(user_key, item, repeats))
        except Unusable as exc:
            rejected.append(_rejected(user_key, item, f"unusable recently-played item: {exc}"))
        except ValidationError as exc:
            reason = f"invalid PlayEvent: {describe_validation_error(exc)}"
            rejected.append(_rejected(user_key, item, reason))
    return events, rejected


def _play_event(user_key: int, item: Json, repeats: Counter[tuple[str, str]]) -> PlayEvent:
    when = played_at(item.get("played_at"))
    track = track_ref(item.get("track"))
    song = identity.song_key(track.artists[0].name, track.name)
    # Two plays of one song ending in the same second stay two plays.
    same = (when.strftime("%Y-%m-%dT%H:%M:%S"), song)
    n = repeats[same]
    repeats[same] += 1
    return PlayEvent(
        event_id=identity.event_id(user_key, "api", when, song, None, n),
        user_id=user_key,
        played_at=when,
        time_precision="s",
        ms_played=None,
        source="api",
        kind="track",
        track=track,
        context=context_of(item.get("context")),
    )


def _rejected(user_key: int, item: Json, reason: str) -> Rejected:
    payload = orjson.dumps(item, default=str).decode()
    return Rejected(reason, payload, user_key, None)


# --- catalog objects (enrichment) -------------------------------------------------------


@dataclass(frozen=True)
class CatalogTrack:
    """A TrackObject as dimension rows: the track, its album and its artists in order."""

    track: TrackRow
    album: AlbumRow | None
    artists: list[ArtistRow]


def artist_row(value: Any) -> ArtistRow | None:
    """An ArtistObject (full or simplified) as a row; None without an id and a name."""
    artist = mapping(value)
    spotify_id, called = text(artist.get("id")), visible_name(artist.get("name"))
    if spotify_id is None or called is None:
        return None
    genres = artist.get("genres")
    kept = [g for g in map(visible_name, genres) if g] if isinstance(genres, list) else None
    return ArtistRow(spotify_id, spotify_id, called, genres_json(kept), first_image(artist))


def album_row(value: Any, primary_artist: str) -> AlbumRow | None:
    """An AlbumObject (full or simplified) as a row; an album without an id gets an n: key."""
    album = mapping(value)
    title = visible_name(album.get("name"))
    if title is None:
        return None
    spotify_id = text(album.get("id"))
    return AlbumRow(
        identity.album_key(spotify_id, primary_artist, title),
        spotify_id,
        title,
        _release_date(album.get("release_date")),
        text(album.get("album_type")),
        first_image(album),
    )


def album_object(value: Any) -> AlbumRow | None:
    """A full AlbumObject as a row; None without an id."""
    album = mapping(value)
    artists = [row for a in _list(album.get("artists")) if (row := artist_row(a)) is not None]
    found = album_row(album, artists[0].name if artists else "")
    return found if found is not None and found.spotify_id is not None else None


def _release_date(value: Any) -> str | None:
    """ "1981", "1981-12" or "1981-12-15"; anything else is dropped."""
    stamp = text(value)
    return stamp if stamp is not None and re.fullmatch(r"\d{4}(-\d{2}){0,2}", stamp) else None


def catalog_track(value: Any) -> CatalogTrack | None:
    """A TrackObject as rows; None unless it has an id, a name and an artist with an id."""
    track = mapping(value)
    spotify_id, title = text(track.get("id")), visible_name(track.get("name"))
    artists = [row for a in _list(track.get("artists")) if (row := artist_row(a)) is not None]
    if spotify_id is None or title is None or not artists:
        return None
    album = album_row(track.get("album"), artists[0].name)
    track_row = TrackRow(
        spotify_id,
        spotify_id,
        identity.song_key(artists[0].name, title),
        title,
        "track",
        whole(track.get("duration_ms")),
        flag(track.get("explicit")),
        text(mapping(track.get("external_ids")).get("isrc")),
        None if album is None else album.album_key,
    )
    return CatalogTrack(track_row, album, artists)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def search_items(answer: Json, kind: str) -> list[Any]:
    """The items of one type in a search answer (``tracks``, ``artists``)."""
    return _list(mapping(answer.get(kind + "s")).get("items"))


def matching_track(answer: Json, song_key: str) -> CatalogTrack | None:
    """The first track found whose (primary artist, title) is the song we look for."""
    for item in search_items(answer, "track"):
        found = catalog_track(item)
        if found is not None and found.track.song_key == song_key:
            return found
    return None


def matching_artist(answer: Json, name: str) -> ArtistRow | None:
    """The first artist found with exactly this name (after normalizing)."""
    wanted = identity.normalize(name)
    for item in search_items(answer, "artist"):
        found = artist_row(item)
        if found is not None and identity.normalize(found.name) == wanted:
            return found
    return None

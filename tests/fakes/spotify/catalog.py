"""The fake Spotify's catalog, and its objects in the Web API's JSON shapes.

Shapes follow the Web API reference (TrackObject, ArtistObject, AlbumObject, their
simplified forms and PlayHistoryObject). `dev_mode` leaves out what development-mode
apps no longer get in 2026: `popularity` and `followers`.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_FIRST = (
    "Nova Silver Paper Velvet Golden Quiet Electric Northern Midnight Static Hollow Wild "
    "Crystal Amber Lunar Distant Neon Paper Broken Scarlet Pale Winter Copper Ivory"
).split()
_SECOND = (
    "Lane Harbour Kites Tides Orchard Engines Lanterns Rivers Foxes Pilots Echoes Gardens "
    "Hearts Signals Comets Bridges Ferns Waves Atlas Choir Motel Arcade Parade Meadow"
).split()
_WORDS = (
    "lights undertow morning ghost fever summer letters window gravity honey static wire "
    "ocean sparrow diamond shadow candle paper thunder velvet harbour mirror orbit silver "
    "dust rain glass fire golden satellite"
).split()
_GENRES = ("indie pop", "dream pop", "folk", "synthwave", "post-punk", "jazz", "house", "soul")
API_BASE = "https://api.spotify.com/v1"


def spotify_id(*parts: object) -> str:
    """A 22-character base62 id, like Spotify's, fixed by `parts`."""
    number = int.from_bytes(hashlib.sha256(":".join(map(str, parts)).encode()).digest(), "big")
    chars = []
    for _ in range(22):
        number, digit = divmod(number, 62)
        chars.append(_BASE62[digit])
    return "".join(chars)


def image(of: str) -> list[dict[str, Any]]:
    digest = hashlib.sha1(of.encode(), usedforsecurity=False).hexdigest()[:24]
    return [
        {"url": f"https://i.scdn.co/image/ab67616d0000b273{digest}", "height": 640, "width": 640},
        {"url": f"https://i.scdn.co/image/ab67616d00001e02{digest}", "height": 300, "width": 300},
    ]


@dataclass
class Artist:
    id: str
    name: str
    genres: list[str]
    album_ids: list[str] = field(default_factory=list)


@dataclass
class Album:
    id: str
    name: str
    release_date: str
    album_type: str
    artist_ids: list[str]
    track_ids: list[str] = field(default_factory=list)


@dataclass
class Track:
    id: str
    name: str
    duration_ms: int
    explicit: bool
    isrc: str
    album_id: str
    artist_ids: list[str]
    track_number: int


class Catalog:
    """Artists, their albums and tracks; the same seed always builds the same catalog."""

    def __init__(self) -> None:
        self.artists: dict[str, Artist] = {}
        self.albums: dict[str, Album] = {}
        self.tracks: dict[str, Track] = {}

    @classmethod
    def build(cls, seed: int = 0, artists: int = 40, albums: int = 2, tracks: int = 8) -> Catalog:
        catalog, rng = cls(), random.Random(seed)
        names = [f"{a} {b}" for a in _FIRST for b in _SECOND]
        rng.shuffle(names)
        for a in range(artists):
            artist = Artist(spotify_id(seed, "artist", a), names[a], rng.sample(_GENRES, 2))
            catalog.artists[artist.id] = artist
            for b in range(albums):
                catalog._add_album(rng, seed, artist, b, tracks)
        return catalog

    def _add_album(self, rng: random.Random, seed: int, artist: Artist, n: int, size: int) -> None:
        title = " ".join(rng.sample(_WORDS, 2)).title()
        year = rng.randint(1975, 2026)
        album = Album(
            spotify_id(seed, "album", artist.id, n),
            title,
            f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            "album" if size > 3 else "single",
            [artist.id],
        )
        artist.album_ids.append(album.id)
        self.albums[album.id] = album
        for number in range(1, size + 1):
            track = Track(
                spotify_id(seed, "track", album.id, number),
                f"{' '.join(rng.sample(_WORDS, 2)).title()} {n}{number}",
                rng.randint(120_000, 360_000),
                rng.random() < 0.15,
                f"GBXYZ{year % 100:02d}{rng.randint(0, 99999):05d}",
                album.id,
                [artist.id],
                number,
            )
            album.track_ids.append(track.id)
            self.tracks[track.id] = track

    def track_list(self) -> list[Track]:
        return list(self.tracks.values())


def _urls(kind: str, id_: str) -> dict[str, Any]:
    return {
        "external_urls": {"spotify": f"https://open.spotify.com/{kind}/{id_}"},
        "href": f"{API_BASE}/{kind}s/{id_}",
        "id": id_,
        "type": kind,
        "uri": f"spotify:{kind}:{id_}",
    }


def simplified_artist(artist: Artist) -> dict[str, Any]:
    return {"name": artist.name, **_urls("artist", artist.id)}


def artist_json(artist: Artist, dev_mode: bool) -> dict[str, Any]:
    body = {
        **simplified_artist(artist),
        "genres": list(artist.genres),
        "images": image(artist.id),
    }
    if not dev_mode:
        body["followers"] = {"href": None, "total": 1000 + len(artist.name) * 37}
        body["popularity"] = 40 + len(artist.name) % 50
    return body


def simplified_album(catalog: Catalog, album: Album, dev_mode: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "album_type": album.album_type,
        "total_tracks": len(album.track_ids),
        "available_markets": ["GB", "DE", "US"],
        "images": image(album.id),
        "name": album.name,
        "release_date": album.release_date,
        "release_date_precision": "day",
        "artists": [simplified_artist(catalog.artists[a]) for a in album.artist_ids],
        **_urls("album", album.id),
    }
    return body


def album_json(catalog: Catalog, album: Album, dev_mode: bool) -> dict[str, Any]:
    tracks = [simplified_track(catalog, catalog.tracks[t], dev_mode) for t in album.track_ids]
    body = {
        **simplified_album(catalog, album, dev_mode),
        "tracks": {
            "href": f"{API_BASE}/albums/{album.id}/tracks?offset=0&limit=50",
            "items": tracks,
            "limit": 50,
            "next": None,
            "offset": 0,
            "previous": None,
            "total": len(tracks),
        },
        "copyrights": [{"text": f"(C) {album.release_date[:4]} Fake Records", "type": "C"}],
        "external_ids": {"upc": "00" + album.id[:10]},
        "genres": [],
        "label": "Fake Records",
        "popularity": 30,
    }
    if dev_mode:
        del body["popularity"]
    return body


def simplified_track(catalog: Catalog, track: Track, dev_mode: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "artists": [simplified_artist(catalog.artists[a]) for a in track.artist_ids],
        "available_markets": ["GB", "DE", "US"],
        "disc_number": 1,
        "duration_ms": track.duration_ms,
        "explicit": track.explicit,
        "name": track.name,
        "preview_url": None,
        "track_number": track.track_number,
        "is_local": False,
        **_urls("track", track.id),
    }
    return body


def track_json(catalog: Catalog, track: Track, dev_mode: bool) -> dict[str, Any]:
    album = catalog.albums[track.album_id]
    body = {
        **simplified_track(catalog, track, dev_mode),
        "album": simplified_album(catalog, album, dev_mode),
        "external_ids": {"isrc": track.isrc},
        "popularity": 50,
    }
    if dev_mode:
        del body["popularity"]
    return body


def played_at_text(when: datetime) -> str:
    """Spotify's timestamp form: UTC with milliseconds and a Z."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def epoch_ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)

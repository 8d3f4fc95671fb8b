"""Identity keys and normalization (DESIGN §3).

A track's key is its Spotify id when known, else ``n:`` + sha1 of its normalized
primary artist and title. The song key groups an API play (with ids) and an
account-export play (names only) of one song together.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from datetime import datetime
from functools import lru_cache

_SEP = "\x1f"
_WHITESPACE = re.compile(r"\s+")
# "Song - Remastered 2011", "Song - 2011 Remaster", "Song (Remastered)", "Song - Remastered Version"
_REMASTER_SUFFIX = re.compile(
    r"\s*(?:-\s*|\(\s*|\[\s*)(?:\d{4}\s+)?(?:digital(?:ly)?\s+)?remaster(?:ed)?"
    r"(?:\s+\d{4})?(?:\s+version)?\s*[\)\]]?\s*$",
    re.IGNORECASE,
)


@lru_cache(maxsize=65536)
def normalize(text: str) -> str:
    """NFKC, casefold and collapse whitespace."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return _WHITESPACE.sub(" ", folded).strip()


@lru_cache(maxsize=65536)
def normalize_title(title: str) -> str:
    """`normalize`, and strip "- Remastered 2011"-style suffixes."""
    return _REMASTER_SUFFIX.sub("", normalize(title)).strip() or normalize(title)


def _sha1(*parts: str) -> str:
    return hashlib.sha1(_SEP.join(parts).encode("utf-8"), usedforsecurity=False).hexdigest()


@lru_cache(maxsize=65536)
def song_key(primary_artist: str, title: str) -> str:
    """The key stats group songs by: normalized (primary artist, title)."""
    return _sha1(normalize(primary_artist), normalize_title(title))


def track_key(spotify_id: str | None, primary_artist: str, title: str) -> str:
    """The Spotify id when known, else ``n:`` + the song key."""
    return spotify_id or "n:" + song_key(primary_artist, title)


@lru_cache(maxsize=65536)
def artist_key(spotify_id: str | None, name: str) -> str:
    """The Spotify id when known, else ``n:`` + sha1 of the normalized name."""
    return spotify_id or "n:" + _sha1(normalize(name))


@lru_cache(maxsize=65536)
def album_key(spotify_id: str | None, primary_artist: str, name: str) -> str:
    """The Spotify id when known, else ``n:`` + sha1 of normalized (artist, album)."""
    return spotify_id or "n:" + _sha1(normalize(primary_artist), normalize_title(name))


@lru_cache(maxsize=65536)
def show_key(spotify_id: str | None, name: str) -> str:
    """A podcast show's key; it plays the artist's role for episodes."""
    return spotify_id or "n:" + _sha1("show", normalize(name))


def spelling_key(track_name: str, artist_name: str, album_name: str | None) -> str:
    """A key for the exact names one play carried (no normalization: spelling is the point)."""
    return _sha1(track_name, artist_name, album_name or "")[:24]


def event_id(
    user_id: int,
    source: str,
    played_at: datetime,
    song: str,
    ms_played: int | None,
    n: int = 0,
) -> str:
    """The idempotency key of one listen.

    `n` numbers rows of one file identical in every other part, so several plays
    of a song ending in the same minute stay distinct plays.
    """
    # isoformat is twice as fast as strftime and the same text from year 1000 on; before
    # that strftime writes the year unpadded ("999-…"), and the ids keep that spelling.
    if played_at.year >= 1000:
        stamp = played_at.isoformat()[:19]
    else:
        stamp = played_at.strftime("%Y-%m-%dT%H:%M:%S")
    return _sha1(str(user_id), source, stamp, song, str(ms_played), str(n))[:32]


_SPOTIFY_URI = re.compile(r"spotify:[a-z]+:([0-9A-Za-z]{22})")
"""Spotify ids are 22 characters of base62."""


def spotify_id_from_uri(uri: str | None) -> str | None:
    """``spotify:track:4uLU6hMCjMI75M1A2tKUQC`` → the id; anything else → None."""
    found = _SPOTIFY_URI.fullmatch(uri) if uri else None
    return found.group(1) if found else None

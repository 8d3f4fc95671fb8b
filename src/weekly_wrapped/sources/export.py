"""Spotify's privacy export → PlayEvents (DESIGN §3, §8).

Two kinds of listening history come in the export, told apart by content:

- the **extended** history (``Streaming_History_Audio_*.json``, formerly
  ``endsong_*.json``, and ``Streaming_History_Video_*.json``): second precision,
  real ``ms_played``, skips, shuffle, platform, incognito, and tracks, episodes
  and audiobooks;
- the **account data** history (``StreamingHistory_music_*.json``,
  ``StreamingHistory_podcast_*.json``, formerly ``StreamingHistory*.json``):
  names only, and the end time to the minute.

`ip_addr` and the other fields that identify a person (user agent, username)
are never copied. Rows that name no track, episode or audiobook are counted by
reason, never dropped silently; rows that cannot be read go to quarantine.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, Literal, NamedTuple, TypeVar

import orjson
from pydantic import ValidationError

from weekly_wrapped import identity
from weekly_wrapped.events import (
    MAX_MS_PLAYED,
    Extras,
    Kind,
    PlayEvent,
    Source,
    TrackRef,
    describe_validation_error,
    trusted_event,
)
from weekly_wrapped.rows import Rejected
from weekly_wrapped.sources.names import visible_name

ExportFormat = Literal["extended", "account_music", "account_podcast"]

NULL_METADATA = "null metadata: no track, episode or audiobook named"
HALF_METADATA = "a title without its artist or show"
MALFORMED = "unreadable: no end time or ms played (in quarantine)"
INVALID = "invalid values (in quarantine)"

PRIVATE_FIELDS = frozenset({"ip_addr", "ip_addr_decrypted", "user_agent_decrypted", "username"})
"""Never stored anywhere, not even in quarantine."""

_HISTORY_NAME = re.compile(r"(streaming_?history|endsong|endvideo)[^/]*\.json$", re.IGNORECASE)
_UNKNOWN = ("Unknown Artist", "Unknown Track")
"""How the account data names a play whose metadata is null in the extended history."""


def looks_like_history(name: str) -> bool:
    """Whether a file name is one Spotify gives listening history."""
    return _HISTORY_NAME.search(name) is not None


def sniff(row: Any) -> ExportFormat | None:
    """The format of a history file, from its first row; None if it is not listening history."""
    if not isinstance(row, dict):
        return None
    if "ts" in row and "ms_played" in row:
        return "extended"
    if "endTime" in row and "msPlayed" in row:
        if "trackName" in row or "artistName" in row:
            return "account_music"
        if "episodeName" in row or "podcastName" in row:
            return "account_podcast"
    return None


class Listen(NamedTuple):
    """What one row says was played, before it becomes a PlayEvent."""

    played_at: datetime
    ms_played: int
    kind: Kind
    name: str
    performer: str
    song_key: str


class Candidate(NamedTuple):
    """A row that names a play, with the event id it will have."""

    event_id: str
    listen: Listen
    row: dict[str, Any]


@dataclass
class RowCounts:
    """What the rows of one file held."""

    rows: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    incognito: int = 0
    first_played: datetime | None = None
    last_played: datetime | None = None

    def add(self, rows: int, found: Sequence[Candidate]) -> None:
        """Count a slice of rows and the plays found in it."""
        self.rows += rows
        if not found:
            return
        self.incognito += sum(c.row.get("incognito_mode") is True for c in found)
        first = min(c.listen.played_at for c in found)
        last = max(c.listen.played_at for c in found)
        if self.first_played is None or first < self.first_played:
            self.first_played = first
        if self.last_played is None or last > self.last_played:
            self.last_played = last


class ExportRows:
    """Turns the rows of one file into PlayEvents; `n` numbers rows identical in their id parts."""

    def __init__(self, export_format: ExportFormat, user_id: int) -> None:
        self.format = export_format
        self.source: Source = "export_extended" if export_format == "extended" else "export_account"
        self.user_id = user_id
        self.counts = RowCounts()
        self._read = _READERS[export_format]
        self._track_key = _TRACK_KEYS[export_format]
        self._extras_key = _EXTRAS_KEYS[export_format]
        self._precision = "s" if export_format == "extended" else "min"
        self._seen: Counter[tuple[datetime, str, int]] = Counter()
        self._rejected: list[Rejected] = []
        self._tracks = _Validated(_track_ref)
        self._extras = _Validated(_extras_ref)

    def candidates(self, rows: Sequence[Any]) -> list[Candidate]:
        """The rows that name a play, each with its event id; the others are counted."""
        found: list[Candidate] = []
        read, event_id = self._read, self._event_id
        for row in rows:
            listen = read(row) if type(row) is dict else MALFORMED
            if isinstance(listen, str):
                self._skip(row, listen)
            else:
                found.append(Candidate(event_id(listen), listen, row))
        self.counts.add(len(rows), found)
        return found

    def _event_id(self, listen: Listen) -> str:
        same = (listen.played_at, listen.song_key, listen.ms_played)
        n = self._seen[same]
        self._seen[same] = n + 1
        played_at, song, ms = same
        return identity.event_id(self.user_id, self.source, played_at, song, ms, n)

    def events(self, candidates: Sequence[Candidate]) -> list[PlayEvent]:
        """Validated PlayEvents; a row that fails validation is counted and kept for quarantine."""
        events: list[PlayEvent] = []
        for candidate in candidates:
            try:
                events.append(self._event(candidate))
            except ValidationError as exc:
                reason = f"invalid export row: {describe_validation_error(exc)}"
                self._skip(candidate.row, INVALID, reason, candidate.event_id)
        return events

    def _event(self, candidate: Candidate) -> PlayEvent:
        """Validated once: the parts by `_Validated`, the rest checked here, never again.

        A value out of the contract's bounds takes the slow road, so its reason
        is pydantic's own, word for word.
        """
        listen, row = candidate.listen, candidate.row
        fields = {
            "event_id": candidate.event_id,
            "user_id": self.user_id,
            "played_at": listen.played_at,
            "time_precision": self._precision,
            "ms_played": listen.ms_played,
            "source": self.source,
            "kind": listen.kind,
            "track": self._tracks.get(self._track_key(listen, row)),
            "extras": self._extras.get(self._extras_key(row)),
        }
        if 0 <= listen.ms_played <= MAX_MS_PLAYED and self.user_id >= 1:
            return trusted_event(fields)
        return PlayEvent.model_validate(fields)

    def take_rejected(self) -> list[Rejected]:
        """Rows for quarantine since the last call, without any private field."""
        rejected, self._rejected = self._rejected, []
        return rejected

    def _skip(
        self, row: Any, reason: str, detail: str | None = None, event_id: str | None = None
    ) -> None:
        self.counts.skipped[reason] += 1
        if reason in (MALFORMED, INVALID):
            payload = orjson.dumps(without_private_fields(row), default=str).decode()
            self._rejected.append(Rejected(detail or reason, payload, self.user_id, event_id))


def without_private_fields(row: Any) -> Any:
    """A row with ip address, user agent and username removed."""
    if isinstance(row, dict):
        return {k: v for k, v in row.items() if k not in PRIVATE_FIELDS}
    return row


# --- reading rows ----------------------------------------------------------------------


_text = visible_name
"""Names and other text from a row lose control characters; blank text is missing."""


def _count(value: Any) -> int | None:
    return value if type(value) is int else None


def _utc(text: Any) -> datetime | None:
    """Spotify's times are UTC: ``2023-01-05T14:03:27Z`` or ``2023-01-05 14:03``."""
    if not isinstance(text, str):
        return None
    try:
        parsed = datetime.fromisoformat(text)
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (ValueError, OverflowError):  # in UTC, year 1 at +14:00 falls before the calendar
        return None


def _listen(
    played_at: datetime | None, ms: int | None, kind: Kind, name: str | None, by: str | None
) -> Listen | str:
    if played_at is None or ms is None:
        return MALFORMED
    if name is None or by is None:
        return NULL_METADATA if name is None and by is None else HALF_METADATA
    return Listen(played_at, ms, kind, name, by, identity.song_key(by, name))


def _read_extended(row: dict[str, Any]) -> Listen | str:
    played_at, ms = _utc(row.get("ts")), _count(row.get("ms_played"))
    track = _text(row.get("master_metadata_track_name"))
    artist = _text(row.get("master_metadata_album_artist_name"))
    if track or artist:
        return _listen(played_at, ms, "track", track, artist)
    episode, show = _text(row.get("episode_name")), _text(row.get("episode_show_name"))
    if episode or show:
        return _listen(played_at, ms, "episode", episode, show)
    book = _text(row.get("audiobook_title"))
    if book:
        chapter = _text(row.get("audiobook_chapter_title")) or book
        return _listen(played_at, ms, "audiobook", chapter, book)
    return _listen(played_at, ms, "track", None, None)


def _read_account_music(row: dict[str, Any]) -> Listen | str:
    artist, track = _text(row.get("artistName")), _text(row.get("trackName"))
    if (artist, track) == _UNKNOWN:
        artist = track = None
    return _listen(_utc(row.get("endTime")), _count(row.get("msPlayed")), "track", track, artist)


def _read_account_podcast(row: dict[str, Any]) -> Listen | str:
    show, episode = _text(row.get("podcastName")), _text(row.get("episodeName"))
    return _listen(_utc(row.get("endTime")), _count(row.get("msPlayed")), "episode", episode, show)


_READERS = {
    "extended": _read_extended,
    "account_music": _read_account_music,
    "account_podcast": _read_account_podcast,
}


# --- building events -------------------------------------------------------------------
# A file plays the same tracks over and over with few distinct playback details, so
# each distinct track and set of extras is validated once and the model shared: the
# models are frozen, and the transform then spots a known track by identity.

TrackKey = tuple[str, str, str, str | None, str | None]
"""(kind, name, performer, album, uri)"""
ExtrasKey = tuple[Any, ...]
_EXTRAS_FIELDS = (
    "reason_start", "reason_end", "platform", "conn_country",
    "shuffle", "skipped", "offline", "incognito",
)  # fmt: skip
_EXTRAS_ROW_FIELDS = (*_EXTRAS_FIELDS[:-1], "incognito_mode")


Key = TypeVar("Key")
Model = TypeVar("Model")


class _Validated(Generic[Key, Model]):
    """Models validated once per distinct key, with a bound on how many are kept."""

    LIMIT = 50_000

    def __init__(self, build: Callable[[Key], Model]) -> None:
        self._build = build
        self._models: dict[Key, Model] = {}

    def get(self, key: Key) -> Model:
        try:
            model = self._models.get(key)
        except TypeError:  # a row with a list or object where text belongs
            return self._build(key)
        if model is None:
            if len(self._models) >= self.LIMIT:
                self._models.clear()
            model = self._models[key] = self._build(key)
        return model


def _extended_track_key(listen: Listen, row: dict[str, Any]) -> TrackKey:
    """Raw values as the key: they are tidied only when a new track is validated."""
    if listen.kind == "track":
        album, uri = row.get("master_metadata_album_album_name"), row.get("spotify_track_uri")
    elif listen.kind == "episode":
        album, uri = None, row.get("spotify_episode_uri")
    else:
        album, uri = None, row.get("audiobook_chapter_uri") or row.get("audiobook_uri")
    return listen.kind, listen.name, listen.performer, album, uri


def _account_track_key(listen: Listen, row: dict[str, Any]) -> TrackKey:
    return listen.kind, listen.name, listen.performer, None, None


def _track_ref(key: TrackKey) -> TrackRef:
    kind, name, performer, raw_album, raw_uri = key
    album, uri = _text(raw_album), _text(raw_uri)
    spotify_id = identity.spotify_id_from_uri(uri)
    fields: dict[str, Any] = {"id": spotify_id, "uri": uri if spotify_id else None, "name": name}
    if kind == "track":
        fields["album"] = {"name": album} if album else None
        fields["artists"] = [{"name": performer}]
    else:
        fields["show"] = {"name": performer}
    return TrackRef.model_validate(fields)


def _extended_extras_key(row: dict[str, Any]) -> ExtrasKey:
    return tuple(map(row.get, _EXTRAS_ROW_FIELDS))


def _account_extras_key(row: dict[str, Any]) -> ExtrasKey:
    return ()


def _extras_ref(key: ExtrasKey) -> Extras:
    if not key:
        return Extras()
    texts = (_text(v) for v in key[:4])
    flags = (v if type(v) is bool else None for v in key[4:])
    return Extras.model_validate(dict(zip(_EXTRAS_FIELDS, (*texts, *flags), strict=True)))


_TRACK_KEYS: dict[str, Callable[[Listen, dict[str, Any]], TrackKey]] = {
    "extended": _extended_track_key,
    "account_music": _account_track_key,
    "account_podcast": _account_track_key,
}
_EXTRAS_KEYS: dict[str, Callable[[dict[str, Any]], ExtrasKey]] = {
    "extended": _extended_extras_key,
    "account_music": _account_extras_key,
    "account_podcast": _account_extras_key,
}

"""The contract between every source and the processor: PlayEvent v1 (DESIGN §2).

One JSON document per listen. `played_at` is the **end** of playback, in UTC.
The JSON Schema in `schemas/play.v1.json` is generated from these models
(`python -m weekly_wrapped.events`), and a test keeps the two in step.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
import orjson
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    field_validator,
    model_validator,
)

from weekly_wrapped import identity
from weekly_wrapped.errors import InvalidEvent

SCHEMA_NAME: Literal["play.v1"] = "play.v1"
Source = Literal["api", "export_extended", "export_account", "manual"]
Kind = Literal["track", "episode", "audiobook"]


def _utc_z(value: datetime) -> str:
    """ISO 8601 in UTC to the millisecond (cut, not rounded), with a four-digit year and a Z."""
    return value.astimezone(UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


UtcDatetime = Annotated[AwareDatetime, PlainSerializer(_utc_z, return_type=str)]
Name = Annotated[str, Field(min_length=1, max_length=1000)]
MAX_MS_PLAYED = 86_400_000
"""A day: no single play lasts longer."""


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class ArtistRef(_Part):
    """An artist as a source saw it; the id is absent for name-only sources."""

    id: str | None = None
    name: Name


class AlbumRef(_Part):
    id: str | None = None
    name: Name
    release_date: str | None = None
    image_url: str | None = None


class ShowRef(_Part):
    """A podcast show (or audiobook): the artist's role for episodes."""

    id: str | None = None
    name: Name


class TrackRef(_Part):
    """What was played. For episodes `name` is the episode and `show` is set."""

    id: str | None = None
    uri: str | None = None
    name: Name
    duration_ms: int | None = Field(default=None, ge=0)
    explicit: bool | None = None
    isrc: str | None = None
    album: AlbumRef | None = None
    artists: list[ArtistRef] = Field(default_factory=list)
    show: ShowRef | None = None


class Context(_Part):
    type: str
    uri: str | None = None


class Extras(_Part):
    """Playback details from the extended export; each may be unknown."""

    reason_start: str | None = None
    reason_end: str | None = None
    shuffle: bool | None = None
    skipped: bool | None = None
    offline: bool | None = None
    platform: str | None = None
    conn_country: str | None = None
    incognito: bool | None = None


def performer(kind: str, track: TrackRef | WireTrack) -> str:
    """A play's primary artist, or its show for episodes and audiobooks."""
    if kind != "track" and track.show is not None:
        return track.show.name
    return track.artists[0].name


class PlayEvent(_Part):
    """One listen. `event_id` is deterministic: the same listen always gets the same id."""

    schema_: Literal["play.v1"] = Field(default=SCHEMA_NAME, alias="schema")
    event_id: Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")]
    user_id: int = Field(ge=1)
    played_at: UtcDatetime
    time_precision: Literal["s", "min"] = "s"
    ms_played: int | None = Field(default=None, ge=0, le=MAX_MS_PLAYED)
    source: Source
    kind: Kind = "track"
    track: TrackRef
    context: Context | None = None
    extras: Extras = Field(default_factory=Extras)

    model_config = ConfigDict(
        extra="forbid", frozen=True, strict=True, populate_by_name=True, title="PlayEvent"
    )

    @field_validator("played_at")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        try:
            return value.astimezone(UTC)
        except OverflowError:  # year 1 with a positive offset, year 9999 with a negative one
            raise ValueError(f"{value.isoformat()} is outside the calendar in UTC") from None

    @model_validator(mode="after")
    def _has_performer(self) -> PlayEvent:
        if self.kind == "track" and not self.track.artists:
            raise ValueError("a track needs at least one artist")
        if self.kind != "track" and self.track.show is None and not self.track.artists:
            raise ValueError(f"an {self.kind} needs a show (or an author as artist)")
        return self

    @property
    def performer(self) -> str:
        """The primary artist, or the show for episodes and audiobooks."""
        return performer(self.kind, self.track)

    @property
    def song_key(self) -> str:
        return identity.song_key(self.performer, self.track.name)

    def to_json(self) -> bytes:
        """The wire form: compact UTF-8 JSON."""
        return self.__pydantic_serializer__.to_json(self, by_alias=True)


_EVENT_FIELDS = tuple(PlayEvent.model_fields)
_EVENT_DEFAULTS: dict[str, Any] = {
    "schema_": SCHEMA_NAME,
    "time_precision": "s",
    "ms_played": None,
    "kind": "track",
    "context": None,
    "extras": Extras(),
}


def trusted_event(fields: dict[str, Any]) -> PlayEvent:
    """A PlayEvent from values our own parser has already checked: not validated again.

    Only for sources that build every part to the contract themselves (the export
    parser); `track` and `extras` must be validated models. Anything from outside
    goes through `parse_event` or `decode_events`.
    """
    values = {**_EVENT_DEFAULTS, **fields}
    event = PlayEvent.__new__(PlayEvent)
    # What pydantic's own model_construct does, without its per-field bookkeeping.
    object.__setattr__(event, "__dict__", {name: values[name] for name in _EVENT_FIELDS})
    object.__setattr__(event, "__pydantic_fields_set__", set(fields))
    object.__setattr__(event, "__pydantic_extra__", None)
    object.__setattr__(event, "__pydantic_private__", None)
    return event


def parse_event(raw: bytes | str | dict[str, Any]) -> PlayEvent:
    """Validate one message against the contract, or raise `InvalidEvent` saying why."""
    try:
        payload = raw if isinstance(raw, bytes | str) else orjson.dumps(raw)
        return PlayEvent.model_validate_json(payload)
    except ValidationError as exc:
        raise InvalidEvent(describe_validation_error(exc)) from None


# --- the fast road for messages from outside -------------------------------------------
# msgspec checks a message against the same contract, about six times faster than
# pydantic, and gives each part the same attribute names, so the transform takes
# either. It must refuse all that the model refuses: what it refuses goes to
# `parse_event`, whose words the quarantine keeps (and which takes the rare message
# msgspec was stricter about). A test holds the two to the same verdicts.

_WireName = Annotated[str, msgspec.Meta(min_length=1, max_length=1000)]
_Count = Annotated[int, msgspec.Meta(ge=0)]


class WireArtist(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    name: _WireName
    id: str | None = None


class WireAlbum(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    name: _WireName
    id: str | None = None
    release_date: str | None = None
    image_url: str | None = None


class WireTrack(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    name: _WireName
    id: str | None = None
    uri: str | None = None
    duration_ms: _Count | None = None
    explicit: bool | None = None
    isrc: str | None = None
    album: WireAlbum | None = None
    artists: list[WireArtist] = msgspec.field(default_factory=list)
    show: WireArtist | None = None


class WireContext(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    type: str
    uri: str | None = None


class WireExtras(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    reason_start: str | None = None
    reason_end: str | None = None
    shuffle: bool | None = None
    skipped: bool | None = None
    offline: bool | None = None
    platform: str | None = None
    conn_country: str | None = None
    incognito: bool | None = None


class WirePlay(msgspec.Struct, forbid_unknown_fields=True, rename={"schema_": "schema"}):
    """A PlayEvent as msgspec reads it off the wire; see `read_events`."""

    event_id: Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{32}$")]
    user_id: Annotated[int, msgspec.Meta(ge=1)]
    played_at: Annotated[datetime, msgspec.Meta(tz=True)]
    source: Source
    track: WireTrack
    schema_: Literal["play.v1"] = SCHEMA_NAME
    time_precision: Literal["s", "min"] = "s"
    ms_played: Annotated[int, msgspec.Meta(ge=0, le=MAX_MS_PLAYED)] | None = None
    kind: Kind = "track"
    context: WireContext | None = None
    extras: WireExtras = msgspec.field(default_factory=WireExtras)

    @property
    def performer(self) -> str:
        """The primary artist, or the show for episodes and audiobooks."""
        return performer(self.kind, self.track)

    @property
    def song_key(self) -> str:
        return identity.song_key(self.performer, self.track.name)

    def to_json(self) -> bytes:
        """The wire form, as `PlayEvent.to_json` writes it."""
        return PlayEvent.model_validate_json(msgspec.json.encode(self)).to_json()

    def in_contract(self) -> bool:
        """What msgspec cannot say: a performer, and a time that stays in the calendar in UTC."""
        if self.kind == "track" and not self.track.artists:
            return False
        if self.kind != "track" and self.track.show is None and not self.track.artists:
            return False
        try:
            utc = self.played_at.astimezone(UTC)
        except OverflowError:
            return False
        self.played_at = utc  # as the model's validator stores it
        return True


Play = PlayEvent | WirePlay
"""A valid event, either way it was read: what the transform takes."""

_READ = msgspec.json.Decoder(WirePlay)
_FINE_FRACTION = re.compile(rb"\.[0-9]{7}")
"""Past microseconds msgspec rounds and pydantic cuts: such a message takes pydantic's road."""


def read_event(raw: bytes | str) -> Play:
    """Validate one message against the contract, fast; or raise `InvalidEvent` saying why."""
    if _FINE_FRACTION.search(raw.encode() if isinstance(raw, str) else raw) is None:
        try:
            event = _READ.decode(raw)
        except msgspec.DecodeError:
            pass
        else:
            if event.in_contract():
                return event
    return parse_event(raw)


def describe_validation_error(exc: ValidationError) -> str:
    """One line naming each bad field, e.g. ``played_at: Input should have timezone info``."""
    parts = []
    for err in exc.errors(include_url=False):
        where = ".".join(str(p) for p in err["loc"]) or "message"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


def json_schema() -> dict[str, Any]:
    """The JSON Schema of PlayEvent v1, as published in the package."""
    schema = PlayEvent.model_json_schema(by_alias=True)
    schema["$id"] = "https://weekly-wrapped.dev/schemas/play.v1.json"
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


def published_schema() -> dict[str, Any]:
    """The schema file shipped in the package."""
    text = resources.files("weekly_wrapped").joinpath("schemas/play.v1.json").read_text("utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def write_schema(path: Path) -> None:
    path.write_text(json.dumps(json_schema(), indent=2, sort_keys=True) + "\n", encoding="utf-8")


if __name__ == "__main__":
    write_schema(Path(str(resources.files("weekly_wrapped").joinpath("schemas/play.v1.json"))))

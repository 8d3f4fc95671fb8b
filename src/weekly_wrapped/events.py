"""The contract between every source and the processor: PlayEvent v1 (DESIGN §2).

One JSON document per listen. `played_at` is the **end** of playback, in UTC.
The JSON Schema in `schemas/play.v1.json` is generated from these models
(`python -m weekly_wrapped.events`), and a test keeps the two in step.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

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
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


UtcDatetime = Annotated[AwareDatetime, PlainSerializer(_utc_z, return_type=str)]
Name = Annotated[str, Field(min_length=1, max_length=1000)]


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


class PlayEvent(_Part):
    """One listen. `event_id` is deterministic: the same listen always gets the same id."""

    schema_: Literal["play.v1"] = Field(default=SCHEMA_NAME, alias="schema")
    event_id: Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")]
    user_id: int = Field(ge=1)
    played_at: UtcDatetime
    time_precision: Literal["s", "min"] = "s"
    ms_played: int | None = Field(default=None, ge=0, le=86_400_000)
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
        if self.kind != "track" and self.track.show is not None:
            return self.track.show.name
        return self.track.artists[0].name

    @property
    def song_key(self) -> str:
        return identity.song_key(self.performer, self.track.name)

    def to_json(self) -> bytes:
        """The wire form: compact UTF-8 JSON."""
        return orjson.dumps(self.model_dump(mode="json", by_alias=True))


def parse_event(raw: bytes | str | dict[str, Any]) -> PlayEvent:
    """Validate one message against the contract, or raise `InvalidEvent` saying why."""
    try:
        payload = raw if isinstance(raw, bytes | str) else orjson.dumps(raw)
        return PlayEvent.model_validate_json(payload)
    except ValidationError as exc:
        raise InvalidEvent(describe_validation_error(exc)) from None


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

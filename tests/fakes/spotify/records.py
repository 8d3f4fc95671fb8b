"""The fake Spotify's records: listeners and their plays, grants, faults, and replies."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any


class ManualClock:
    """A clock tests move by hand; the fake and the code under test can share one."""

    def __init__(self, start: datetime) -> None:
        self.current = start

    def __call__(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> datetime:
        self.current += timedelta(**delta)
        return self.current


@dataclass
class Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None


@dataclass
class Fault:
    """Misbehaviour for requests whose path starts with `path` (and of `user`, if set)."""

    path: str
    status: int | None = None
    retry_after: int | None = None
    delay: float = 0.0
    malformed: bool = False
    times: int | None = 1
    user: str | None = None


@dataclass
class Play:
    track_id: str
    played_at: datetime
    context: dict[str, Any] | None = None


@dataclass
class Listener:
    id: str
    display_name: str
    country: str = "GB"
    plays: list[Play] = field(default_factory=list)


@dataclass
class Grant:
    user: str
    scope: str
    expires_at: datetime


@dataclass
class Code:
    user: str
    redirect_uri: str
    challenge: str | None
    scope: str
    expires_at: datetime


@dataclass(frozen=True)
class Seen:
    """One request the fake answered."""

    method: str
    path: str
    user: str | None
    status: int


def api_error(status: int, message: str) -> Reply:
    return Reply(status, {"error": {"status": status, "message": message}})


def oauth_error(error: str, description: str) -> Reply:
    return Reply(400, {"error": error, "error_description": description})

"""The API's response bodies as models: every answer is built through one, and the
OpenAPI document's schemas are generated from them, so the two cannot drift apart."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from weekly_wrapped.insights.models import ListeningStats, Story


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Me(_Body):
    """The logged-in user."""

    id: int
    name: str
    email: str | None
    timezone: str
    weekly_email: bool
    auth_status: str = Field(description="ok, reauth_needed (log in again) or none")
    spotify_user_id: str | None


class RecapUser(_Body):
    id: int
    name: str
    timezone: str


class RecapWriter(_Body):
    name: str = Field(description="offline, gemini or openai")
    model: str | None
    attempts: int
    grounding: dict[str, Any] | None


class RecapDocument(_Body):
    """A week's recap: the numbers (docs/stats.md) and the story, as `wrapped recap` prints it."""

    week: str
    user: RecapUser
    writer: RecapWriter
    stats: ListeningStats
    story: Story


class Play(_Body):
    id: str
    played_at: datetime
    track: str
    artist: str
    album: str | None
    ms_played: int
    ms_played_estimated: bool
    source: str
    kind: str
    skipped: bool | None
    incognito: bool


class PlaysPage(_Body):
    """A page of plays, oldest first; `next_cursor` fetches the next page (null: the last)."""

    plays: list[Play]
    next_cursor: str | None


class UploadStatus(_Body):
    """A privacy-export upload importing in the background."""

    id: str
    filename: str
    state: Literal["running", "done", "failed"]
    percent: int
    files: int
    file_number: int
    rows: int
    plays_added: int | None
    duplicates: int | None
    message: str | None


class ErrorDetail(_Body):
    status: int
    message: str


class Error(_Body):
    """Every error answer of the API."""

    error: ErrorDetail


RESPONSES: tuple[type[BaseModel], ...] = (
    Me, RecapDocument, PlaysPage, UploadStatus, ListeningStats, Error,
)  # fmt: skip

"""One user's recently-played page, read for the poller: plays, rejects, the new cursor, any gap."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from weekly_wrapped.events import PlayEvent
from weekly_wrapped.rows import Rejected
from weekly_wrapped.sources.spotify import parse

PAGE = 50
"""Recently played returns at most this many plays: the last 50."""


@dataclass(frozen=True)
class Gap:
    """A span in which plays may be missing."""

    start: datetime
    end: datetime
    reason: str


@dataclass(frozen=True)
class Page:
    """What one poll of one user brought, ready to store."""

    user_key: int
    events: list[PlayEvent]
    rejected: list[Rejected]
    cursor: datetime | None
    """The newest play seen, or the old cursor when the page is empty."""
    gap: Gap | None

    @classmethod
    def read(cls, user_key: int, items: list[Any], cursor: datetime | None) -> Page:
        events, rejected = parse.play_events(user_key, items)
        stamps = _stamps(items)
        newest = max([*stamps, *([cursor] if cursor else [])], default=None)
        return cls(user_key, events, rejected, newest, _gap(cursor, len(items), stamps))

    def note(self) -> str:
        notes = []
        if self.gap is not None:
            notes.append(f"coverage gap: {self.gap.reason}")
        if self.rejected:
            notes.append(f"{len(self.rejected)} unusable item(s) quarantined")
        return "; ".join(notes)


def _stamps(items: list[Any]) -> list[datetime]:
    """When each item was played, skipping items without a readable time."""
    stamps = []
    for item in items:
        try:
            stamps.append(parse.played_at(parse.mapping(item).get("played_at")))
        except parse.Unusable:
            continue
    return stamps


def _gap(cursor: datetime | None, count: int, stamps: list[datetime]) -> Gap | None:
    """Plays may be lost when a full page is all newer than the cursor."""
    if cursor is None or count < PAGE or not stamps:
        return None
    oldest = min(stamps)
    if oldest <= cursor:
        return None
    reason = (
        f"more than {PAGE} plays since the previous poll, and Spotify returns only the "
        f"last {PAGE}: plays between {cursor:%Y-%m-%d %H:%M} and "
        f"{oldest:%Y-%m-%d %H:%M} UTC may be missing"
    )
    return Gap(cursor, oldest, reason)

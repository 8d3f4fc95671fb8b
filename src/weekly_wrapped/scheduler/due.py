"""What is due now: a pure function of the clock, the users and what was already done.

Each opted-in user's recap of a week is due from Monday at WRAPPED_SEND_AT in their
own timezone. Only the latest such moment counts: after downtime the last week is
sent once, and weeks missed before it are never sent late. The delivery ledger says
what was done, so a restart, or a second server, finds the same answer.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class Recipient:
    """A user the weekly email may go to."""

    user_key: int
    timezone: str
    joined: datetime
    """When the user was created: no recap is due for a Monday before it."""


@dataclass(frozen=True)
class DueRecap:
    """One user's recap of one week, due since `slot`."""

    user_key: int
    week_start: date
    slot: datetime


def parse_send_at(text: str) -> time:
    """``"08:00"`` → 08:00 (the setting is checked when it loads)."""
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def latest_slot(now: datetime, timezone: str, send_at: time) -> datetime:
    """The last Monday at `send_at` in `timezone` that is not after `now`, in UTC."""
    zone = ZoneInfo(timezone)
    local_today = now.astimezone(zone).date()
    monday = local_today - timedelta(days=local_today.weekday())
    slot = datetime.combine(monday, send_at, zone).astimezone(UTC)
    if slot > now:
        slot = datetime.combine(monday - timedelta(days=7), send_at, zone).astimezone(UTC)
    return slot


def due_recaps(
    now: datetime,
    recipients: Iterable[Recipient],
    done: Collection[tuple[int, date]],
    send_at: time,
) -> list[DueRecap]:
    """Every recap due at `now` and not yet `done` (pairs of user and week start)."""
    due: list[DueRecap] = []
    for person in recipients:
        slot = latest_slot(now, person.timezone, send_at)
        week_start = slot.astimezone(ZoneInfo(person.timezone)).date() - timedelta(days=7)
        if slot >= person.joined and (person.user_key, week_start) not in done:
            due.append(DueRecap(person.user_key, week_start, slot))
    return due


def poll_due(now: datetime, last_poll: datetime | None, every: timedelta) -> bool:
    """Whether a polling round is due: never run, or `every` has passed since the last."""
    return last_poll is None or now - last_poll >= every

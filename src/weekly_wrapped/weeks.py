"""ISO weeks in a user's timezone: a week runs Monday 00:00 to the next Monday 00:00 local.

Weeks and days typed by a person are bounded here, once: Spotify began in 2006, and
no recap needs a day after 2100, while date arithmetic near year 1 or 9999 overflows.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from weekly_wrapped.errors import TerminalError

_ISO_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
FIRST_YEAR = 2006
"""Spotify's founding year: no listening is older."""
LAST_YEAR = 2100
"""The last year a week or day may fall in."""
_BOUNDS = f"{FIRST_YEAR}–{LAST_YEAR}"


class InvalidWeek(TerminalError):
    """A week could not be understood."""

    hint = "Write weeks as ISO weeks, for example 2026-W47."


class InvalidDay(TerminalError):
    """A day could not be understood."""

    hint = f"Write days as YYYY-MM-DD, for example 2026-11-17, in the years {_BOUNDS}."


def parse_week(text: str) -> date:
    """``2026-W47`` → the Monday that starts it."""
    match = _ISO_WEEK.match(text.strip())
    if match is None:
        raise InvalidWeek(f"not an ISO week: {text!r}")
    year, week = int(match[1]), int(match[2])
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise InvalidWeek(f"week {text.strip()} is outside {_BOUNDS}")
    try:
        return date.fromisocalendar(year, week, 1)
    except ValueError:
        raise InvalidWeek(f"{year} has no week {week}") from None


def parse_day(text: str, option: str = "day") -> date:
    """``2026-11-17`` → that day, within the years 2006–2100; `option` names it in errors."""
    text = text.strip()
    try:
        day = date.fromisoformat(text) if _DAY.match(text) else None
    except ValueError:
        day = None
    if day is None:
        raise InvalidDay(f"{option}: not a day: {text!r}")
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise InvalidDay(f"{option} {text} is outside {_BOUNDS}")
    return day


def week_label(week_start: date) -> str:
    """The Monday that starts a week → ``2026-W47``."""
    iso = week_start.isocalendar()
    return f"{iso.year}-W{iso.week:02d}"


def last_complete_week(timezone: str, now: datetime | None = None) -> date:
    """The Monday of the last week that has fully ended in `timezone`."""
    local_today = (now or datetime.now(UTC)).astimezone(ZoneInfo(timezone)).date()
    this_monday = local_today - timedelta(days=local_today.weekday())
    return this_monday - timedelta(days=7)


def date_key(day: date) -> int:
    """``date(2026, 11, 17)`` → ``20261117``, as in `dim_date.date_key`."""
    return day.year * 10000 + day.month * 100 + day.day


def week_date_keys(week_start: date) -> tuple[int, int]:
    """The half-open range of `local_date_key` values in the week."""
    return date_key(week_start), date_key(week_start + timedelta(days=7))

"""ISO weeks in a user's timezone: a week runs Monday 00:00 to the next Monday 00:00 local."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from weekly_wrapped.errors import TerminalError

_ISO_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")


class InvalidWeek(TerminalError):
    """A week could not be understood."""

    hint = "Write weeks as ISO weeks, for example 2026-W47."


def parse_week(text: str) -> date:
    """``2026-W47`` → the Monday that starts it."""
    match = _ISO_WEEK.match(text.strip())
    if match is None:
        raise InvalidWeek(f"not an ISO week: {text!r}")
    year, week = int(match[1]), int(match[2])
    try:
        return date.fromisocalendar(year, week, 1)
    except ValueError:
        raise InvalidWeek(f"{year} has no week {week}") from None


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

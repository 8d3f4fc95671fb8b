"""What the dashboard shows, assembled from the insights services (no SQL here).

A past week whose recap was built after it ended is read as stored (the emailed
story); any other week is computed now, with the offline writer's story, and not
stored: only the Monday run keeps recaps.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Generic, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from weekly_wrapped.delivery.service import week_end
from weekly_wrapped.delivery.view import RecapView, recap_view
from weekly_wrapped.insights.history import load_history
from weekly_wrapped.insights.models import ListeningStats
from weekly_wrapped.insights.plays import week_mark
from weekly_wrapped.insights.recap import Recap, load_recap, recap_built_at
from weekly_wrapped.insights.stats import first_listening_day, range_stats, weekly_stats
from weekly_wrapped.insights.writers import OfflineWriter
from weekly_wrapped.warehouse.users import User
from weekly_wrapped.web import charts, models
from weekly_wrapped.weeks import FIRST_YEAR, week_label


@dataclass(frozen=True)
class WeekPage:
    """One week on the dashboard: the recap, its view, its charts and the way around."""

    recap: Recap
    view: RecapView
    charts: list[charts.SvgChart]
    previous: str | None
    next: str | None
    current: bool


def this_monday(user: User, now: datetime) -> date:
    """The Monday that starts the user's current week, in their timezone."""
    today = now.astimezone(ZoneInfo(user.timezone)).date()
    return today - timedelta(days=today.weekday())


def week_recap(conn: Connection, user: User, week_start: date, now: datetime) -> Recap:
    """The stored recap of a finished week, or the week computed now with the offline story."""
    return _recap_under(week_key(conn, user, week_start, now), conn, user, week_start, now)


def week_json(conn: Connection, user: User, week_start: date, now: datetime) -> str:
    """`week_recap` as the API's JSON document, serialized once per change of `week_key`."""
    key = week_key(conn, user, week_start, now)
    kept = _documents.get(key)
    if kept is None:
        recap = _recap_under(key, conn, user, week_start, now)
        document = models.RecapDocument.model_validate(recap.to_json())
        kept = _documents.put(key, document.model_dump_json())
    return kept


def _recap_under(
    key: Hashable, conn: Connection, user: User, week_start: date, now: datetime
) -> Recap:
    """The recap kept under `key`, read or computed (and kept) when there is none."""
    kept = _recaps.get(key)
    if kept is None:
        kept = _recaps.put(key, _read_or_compute(conn, user, week_start, now))
    return kept


def week_key(conn: Connection, user: User, week_start: date, now: datetime) -> Hashable:
    """What a week's recap depends on; any change to what it shows changes the key.

    A finished week with a recap built after it ended is the stored recap, so its build
    time stands for it (the Monday run or a rebuild replaces it). Any other week is
    computed from the plays: their count and latest play (a new or imported play changes
    them), and the minute (the open week's "not over yet" gap moves with it).
    """
    who = (user.user_key, user.display_name, user.timezone, week_start)
    built = recap_built_at(conn, user.user_key, week_start)
    if built is not None and built >= week_end(user, week_start):
        return (*who, "stored", built)
    mark = week_mark(conn, user.user_key, week_start)
    return (*who, "computed", mark, now.replace(second=0, microsecond=0))


def _read_or_compute(conn: Connection, user: User, week_start: date, now: datetime) -> Recap:
    stored = load_recap(conn, user.user_key, week_start, user)
    if stored is not None and stored.created_at >= week_end(user, week_start):
        return stored
    stats = weekly_stats(conn, user.user_key, week_start, now=now)
    history = load_history(conn, user.user_key, week_start, [a.name for a in stats.top_artists])
    story = OfflineWriter().write(stats, history)
    return Recap(user, week_start, stats, story, "offline", None, now)


T = TypeVar("T")


class _Kept(Generic[T]):
    """Values kept under their `week_key`, the least recently used dropped first.

    A dashboard is reloaded far more often than plays arrive or recaps are built,
    and a changed week has a new key, so nothing kept is ever out of date.
    """

    def __init__(self, size: int = 1024) -> None:
        self._size = size
        self._kept: OrderedDict[Hashable, T] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> T | None:
        with self._lock:
            if key in self._kept:
                self._kept.move_to_end(key)
                return self._kept[key]
        return None

    def put(self, key: Hashable, value: T) -> T:
        with self._lock:
            self._kept[key] = value
            while len(self._kept) > self._size:
                self._kept.popitem(last=False)
        return value


_recaps: _Kept[Recap] = _Kept()
_documents: _Kept[str] = _Kept()


def week_page(conn: Connection, user: User, week_start: date, now: datetime) -> WeekPage:
    """Everything the week page shows."""
    recap = week_recap(conn, user, week_start, now)
    view = recap_view(user.display_name, recap.stats, recap.story, recap.writer)
    current = this_monday(user, now)
    later = week_start + timedelta(days=7)
    earlier = week_start - timedelta(days=7)
    return WeekPage(
        recap=recap,
        view=view,
        charts=week_charts(recap.stats, view),
        previous=week_label(earlier) if earlier.year >= FIRST_YEAR else None,
        next=week_label(later) if later <= current else None,
        current=week_start == current,
    )


def week_charts(stats: ListeningStats, view: RecapView) -> list[charts.SvgChart]:
    """Minutes per day, the hour-by-day heatmap, and the weeks before when there are any."""
    drawn = [charts.daily_chart(stats.daily_minutes, stats.busiest_day),
             charts.heatmap_chart(stats.heatmap)]  # fmt: skip
    if stats.trend_4w and len(stats.trend_4w) > 1:
        drawn.append(charts.trend_chart(stats.trend_4w, [c.label for c in view.weeks]))
    return drawn


def period_stats(
    conn: Connection, user: User, first: date | None, last: date, now: datetime
) -> ListeningStats:
    """Stats from `first` (default: the first play) to `last`, both included."""
    start = first or first_listening_day(conn, user.user_key) or last
    return range_stats(conn, user.user_key, min(start, last), last + timedelta(days=1), now=now)


def today(user: User, now: datetime) -> date:
    return now.astimezone(ZoneInfo(user.timezone)).date()

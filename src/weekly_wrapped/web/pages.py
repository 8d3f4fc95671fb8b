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
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from weekly_wrapped.delivery.service import week_end
from weekly_wrapped.delivery.view import RecapView, recap_view
from weekly_wrapped.insights.history import load_history
from weekly_wrapped.insights.models import ListeningStats
from weekly_wrapped.insights.plays import week_mark
from weekly_wrapped.insights.recap import Recap, load_recap
from weekly_wrapped.insights.stats import first_listening_day, range_stats, weekly_stats
from weekly_wrapped.insights.writers import OfflineWriter
from weekly_wrapped.warehouse.users import User
from weekly_wrapped.web import charts
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
    stored = load_recap(conn, user.user_key, week_start)
    if stored is not None and stored.created_at >= week_end(user, week_start):
        return stored
    key = (user.user_key, user.timezone, week_start, week_mark(conn, user.user_key, week_start),
           now.replace(second=0, microsecond=0))  # fmt: skip
    cached = _computed.get(key)
    if cached is not None:
        return cached
    stats = weekly_stats(conn, user.user_key, week_start, now=now)
    history = load_history(conn, user.user_key, week_start, [a.name for a in stats.top_artists])
    story = OfflineWriter().write(stats, history)
    recap = Recap(user, week_start, stats, story, "offline", None, now)
    _computed.put(key, recap)
    return recap


class _Computed:
    """Weeks computed on request, kept while nothing they count has changed.

    A dashboard is reloaded far more often than plays arrive. The key holds the
    week's play count and latest play (any new or imported play changes them), the
    user's timezone, and the minute (the open week's "not over yet" gap moves with it).
    """

    def __init__(self, size: int = 1024) -> None:
        self._size = size
        self._recaps: OrderedDict[Hashable, Recap] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Recap | None:
        with self._lock:
            if key in self._recaps:
                self._recaps.move_to_end(key)
                return self._recaps[key]
        return None

    def put(self, key: Hashable, recap: Recap) -> None:
        with self._lock:
            self._recaps[key] = recap
            while len(self._recaps) > self._size:
                self._recaps.popitem(last=False)


_computed = _Computed()


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

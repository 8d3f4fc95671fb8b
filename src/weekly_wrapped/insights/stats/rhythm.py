"""When the listening happened: the weekday × hour grid, sessions and the daily streak."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache

from sqlalchemy import Connection, case, func, literal_column, select

from weekly_wrapped.insights.models import Sessions
from weekly_wrapped.insights.stats.entries import share, to_minutes
from weekly_wrapped.insights.stats.period import Period, Query, day_of_key, in_period, is_stream
from weekly_wrapped.insights.stats.portable import epoch_seconds
from weekly_wrapped.insights.stats.totals import ONE, ZERO
from weekly_wrapped.warehouse.schema import dim_date, fact_play

SESSION_GAP_S = 20 * 60
"""A silence longer than this between two plays starts a new session."""

LATE_NIGHT_HOURS = range(0, 5)
"""00:00–04:59 local."""

WEEKEND_DAYS = (5, 6)
"""Saturday and Sunday, counting Monday as 0."""

STREAK_LOOKBACK_DAYS = 28
"""History read first when a streak runs into the period; widened while the streak goes on."""


@dataclass(frozen=True)
class Rhythm:
    """Milliseconds of music by local weekday (Monday first) and hour."""

    cells: list[list[int]]

    @property
    def total_ms(self) -> int:
        return sum(self.daily_ms)

    @property
    def daily_ms(self) -> list[int]:
        return [sum(day) for day in self.cells]

    @property
    def hourly_ms(self) -> list[int]:
        return [sum(day[hour] for day in self.cells) for hour in range(24)]

    def heatmap(self) -> list[list[float]]:
        return [[to_minutes(ms) for ms in day] for day in self.cells]

    def daily_minutes(self) -> list[float]:
        return [to_minutes(ms) for ms in self.daily_ms]

    def peak_hour(self) -> int | None:
        return _first_largest(self.hourly_ms)

    def busiest_day(self) -> int | None:
        return _first_largest(self.daily_ms)

    def late_night_share(self) -> float:
        return share(sum(self.hourly_ms[h] for h in LATE_NIGHT_HOURS), self.total_ms)

    def weekend_share(self) -> float:
        return share(sum(self.daily_ms[d] for d in WEEKEND_DAYS), self.total_ms)


def _first_largest(values: list[int]) -> int | None:
    """The index of the largest value (the first, on a tie); None when all are zero."""
    best = max(values)
    return values.index(best) if best > 0 else None


@cache
def _rhythm(incognito: bool) -> Query:
    weekday = dim_date.c.day_of_week
    return (
        select(weekday, fact_play.c.local_hour, func.sum(fact_play.c.ms_played))
        .join(dim_date, dim_date.c.date_key == fact_play.c.local_date_key)
        .where(in_period(incognito))
        .group_by(weekday, fact_play.c.local_hour)
    )


def read_rhythm(conn: Connection, period: Period) -> Rhythm:
    """The 7 × 24 grid of music milliseconds, by the local day and hour each play ended."""
    cells = [[0] * 24 for _ in range(7)]
    for day, hour, ms in conn.execute(_rhythm(period.include_incognito), period.params()):
        cells[int(day)][int(hour)] = int(ms)
    return Rhythm(cells)


@cache
def _sessions(incognito: bool) -> Query:
    order = (fact_play.c.played_at_utc, fact_play.c.play_id)
    ended = epoch_seconds(fact_play.c.played_at_utc)
    started = ended - fact_play.c.ms_played / literal_column("1000.0")
    silence = started - func.lag(ended).over(order_by=order)
    plays = (
        select(
            fact_play.c.ms_played,
            func.row_number().over(order_by=order).label("seq"),
            case((silence <= literal_column(str(SESSION_GAP_S)), ZERO), else_=ONE).label("starts"),
        )
        .where(in_period(incognito))
        .subquery()
    )
    numbered = select(
        plays.c.ms_played, func.sum(plays.c.starts).over(order_by=plays.c.seq).label("session")
    ).subquery()
    sessions = (
        select(func.sum(numbered.c.ms_played).label("ms")).group_by(numbered.c.session).subquery()
    )
    return select(func.count(), func.coalesce(func.max(sessions.c.ms), ZERO))


def read_sessions(conn: Connection, period: Period) -> Sessions:
    """Sessions split by silences over 20 minutes, and the minutes of the longest.

    A play's silence is from the end of the play before it to its own start
    (its end minus `ms_played`). Sessions are cut at the period's edges.
    """
    count, longest = conn.execute(_sessions(period.include_incognito), period.params()).one()
    return Sessions(count=int(count), longest_minutes=to_minutes(int(longest)))


def read_streak(conn: Connection, period: Period) -> int:
    """The longest run of consecutive days with a stream that ends within the period.

    Days after the period are not looked at, so a week's streak never changes later.
    """
    lookback = STREAK_LOOKBACK_DAYS
    while True:
        window = period.reaching_back(lookback)
        runs = [run for run in _runs(_stream_days(conn, window)) if run[1] >= period.start]
        if not runs:
            return 0
        if runs[0][0] > window.start or window.start == date.min:
            return max((end - start).days + 1 for start, end in runs)
        lookback *= 4


@cache
def _days_with_streams(incognito: bool) -> Query:
    day = fact_play.c.local_date_key
    return select(day).where(in_period(incognito), is_stream()).group_by(day).order_by(day)


def _stream_days(conn: Connection, window: Period) -> list[date]:
    rows = conn.execute(_days_with_streams(window.include_incognito), window.params())
    return [day_of_key(int(key)) for key in rows.scalars()]


def _runs(days: list[date]) -> list[tuple[date, date]]:
    """Runs of consecutive days in sorted `days`, as (first, last)."""
    runs: list[tuple[date, date]] = []
    for day in days:
        if runs and day - runs[-1][1] == timedelta(days=1):
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs

"""Counts and sums over a period, music and podcasts in one pass, and the weeks around it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from functools import cache

from sqlalchemy import (
    ColumnElement,
    Connection,
    Integer,
    bindparam,
    case,
    func,
    literal_column,
    select,
    true,
)

from weekly_wrapped.insights.models import WeekDelta
from weekly_wrapped.insights.stats.entries import to_minutes
from weekly_wrapped.insights.stats.period import Period, Query, in_period, is_stream, of_kind
from weekly_wrapped.warehouse.schema import fact_play
from weekly_wrapped.weeks import date_key

TREND_WEEKS = 4
"""Weeks in `trend_4w`, this week last."""

ONE: ColumnElement[int] = literal_column("1", Integer)
ZERO: ColumnElement[int] = literal_column("0", Integer)


@dataclass(frozen=True)
class Totals:
    """A period's counts, with minutes still in milliseconds."""

    plays: int
    ms: int
    estimated_ms: int
    streams: int
    distinct_tracks: int
    distinct_artists: int
    distinct_albums: int
    podcast_ms: int
    episodes: int

    @property
    def skips(self) -> int:
        return self.plays - self.streams


def count_where(condition: ColumnElement[bool]) -> ColumnElement[int]:
    """How many rows meet `condition` (0, never NULL)."""
    return func.coalesce(func.sum(case((condition, ONE), else_=ZERO)), ZERO)


def sum_where(condition: ColumnElement[bool], value: ColumnElement[int]) -> ColumnElement[int]:
    """Σ `value` over the rows meeting `condition` (0, never NULL)."""
    return func.coalesce(func.sum(case((condition, value), else_=ZERO)), ZERO)


def distinct_where(
    condition: ColumnElement[bool], column: ColumnElement[str]
) -> ColumnElement[int]:
    """Distinct non-null values of `column` among the rows meeting `condition`."""
    return func.count(func.distinct(case((condition, column))))


@cache
def _totals(incognito: bool) -> Query:
    ms, stream = fact_play.c.ms_played, is_stream()
    music, podcast = of_kind("music"), of_kind("podcasts")
    estimated = fact_play.c.ms_played_estimated == true()
    return select(
        count_where(music).label("plays"),
        sum_where(music, ms).label("ms"),
        sum_where(music & estimated, ms).label("estimated_ms"),
        count_where(music & stream).label("streams"),
        distinct_where(music & stream, fact_play.c.song_key).label("distinct_tracks"),
        distinct_where(music & stream, fact_play.c.artist_key).label("distinct_artists"),
        distinct_where(music & stream, fact_play.c.album_key).label("distinct_albums"),
        sum_where(podcast, ms).label("podcast_ms"),
        distinct_where(podcast & stream, fact_play.c.track_key).label("episodes"),
    ).where(in_period(incognito, "all"))


def read_totals(conn: Connection, period: Period) -> Totals:
    """Plays, minutes, streams and distinct counts of music, and podcast minutes and episodes."""
    row = conn.execute(_totals(period.include_incognito), period.params()).one()
    return Totals(**{name: int(value) for name, value in row._mapping.items()})


@dataclass(frozen=True)
class Trend:
    """Minutes per week, oldest first and this week last, and the change from last week."""

    minutes: list[float]
    vs_last_week: WeekDelta


_WEEK_STARTS = [bindparam(f"week_{n}", type_=fact_play.c.local_date_key.type)
                for n in range(1, TREND_WEEKS)]  # fmt: skip


@cache
def _trend(incognito: bool) -> Query:
    bucket = case(
        *(
            (fact_play.c.local_date_key < start, literal_column(str(n)))
            for n, start in enumerate(_WEEK_STARTS)
        ),
        else_=literal_column(str(TREND_WEEKS - 1)),
    )
    stream = is_stream()
    return (
        select(
            bucket.label("week"),
            func.sum(fact_play.c.ms_played).label("ms"),
            count_where(stream).label("streams"),
            distinct_where(stream, fact_play.c.artist_key).label("artists"),
        )
        .where(in_period(incognito))
        .group_by(bucket)
    )


def read_trend(conn: Connection, week: Period) -> Trend:
    """`trend_4w` and `vs_last_week` for the week `week` covers, from one grouped query."""
    weeks = week.reaching_back(7 * (TREND_WEEKS - 1))
    starts = {
        param.key: date_key(weeks.start + timedelta(weeks=n))
        for n, param in enumerate(_WEEK_STARTS, 1)
    }
    rows = conn.execute(_trend(week.include_incognito), {**weeks.params(), **starts})
    by_week = {int(r.week): (int(r.ms), int(r.streams), int(r.artists)) for r in rows}
    ms, streams, artists = zip(
        *(by_week.get(n, (0, 0, 0)) for n in range(TREND_WEEKS)), strict=True
    )
    minutes = [to_minutes(value) for value in ms]
    delta = WeekDelta(
        minutes=round(minutes[-1] - minutes[-2], 1),
        streams=streams[-1] - streams[-2],
        distinct_artists=artists[-1] - artists[-2],
    )
    return Trend(minutes=minutes, vs_last_week=delta)

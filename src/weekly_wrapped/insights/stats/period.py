"""The period a stats query covers, and which rows of `fact_play` count in it.

A play belongs to the local day on which it ended in the user's timezone: its
`local_date_key`, written with the row. A period is a half-open range of those
days, so a week is seven keys and every query filters on the same index.

Statements are built once per process with named parameters (`USER`, `FIRST`,
`END`, `START_UTC`) and run with `Period.params()`: one user-week then costs the
database's work and little else, and PostgreSQL can keep each statement prepared.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import MINYEAR, UTC, date, datetime, time
from typing import Any, Literal, TypeAlias
from zoneinfo import ZoneInfo

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    DateTime,
    FromClause,
    Integer,
    Select,
    and_,
    bindparam,
    false,
    literal_column,
    true,
)

from weekly_wrapped.rows import STREAM_MS
from weekly_wrapped.warehouse.schema import fact_play
from weekly_wrapped.weeks import date_key

Query: TypeAlias = Select[*tuple[Any, ...]]
"""A stats statement, built once and run with `Period.params()`."""

Kinds = Literal["music", "podcasts", "all"]
"""Music tracks (what the stats count), podcast episodes and audiobooks, or both."""

USER: BindParameter[int] = bindparam("user_key", type_=Integer)
FIRST: BindParameter[int] = bindparam("first_key", type_=Integer)
END: BindParameter[int] = bindparam("end_key", type_=Integer)
START_UTC: BindParameter[datetime] = bindparam("start_utc", type_=DateTime(timezone=True))
END_UTC: BindParameter[datetime] = bindparam("end_utc", type_=DateTime(timezone=True))


@dataclass(frozen=True)
class Period:
    """One user's local days from `start` up to (not including) `end`."""

    user_key: int
    timezone: str
    start: date
    end: date
    include_incognito: bool = False

    @property
    def first_key(self) -> int:
        return date_key(self.start)

    @property
    def end_key(self) -> int:
        return date_key(self.end)

    @property
    def start_utc(self) -> datetime:
        return self.midnight_utc(self.start)

    @property
    def end_utc(self) -> datetime:
        return self.midnight_utc(self.end)

    def midnight_utc(self, day: date) -> datetime:
        """The instant `day` begins in the user's timezone, in UTC (at most the calendar's ends)."""
        local = datetime.combine(day, time(), ZoneInfo(self.timezone))
        try:
            return local.astimezone(UTC)
        except OverflowError:
            return (datetime.min if day.year == MINYEAR else datetime.max).replace(tzinfo=UTC)

    def reaching_back(self, days: int) -> Period:
        """The same period, started `days` earlier, or on the calendar's first day."""
        earliest = max(self.start.toordinal() - days, date.min.toordinal())
        return replace(self, start=date.fromordinal(earliest))

    def params(self) -> dict[str, object]:
        """Values for the statement parameters."""
        return {
            USER.key: self.user_key,
            FIRST.key: self.first_key,
            END.key: self.end_key,
            START_UTC.key: self.start_utc,
            END_UTC.key: self.end_utc,
        }


def counted(incognito: bool, table: FromClause = fact_play) -> ColumnElement[bool]:
    """The user's rows the stats may count at all: incognito ones only when asked."""
    mine = table.c.user_key == USER
    return mine if incognito else and_(mine, table.c.incognito == false())


def of_kind(kinds: Kinds, table: FromClause = fact_play) -> ColumnElement[bool]:
    music: ColumnElement[str] = literal_column("'track'")
    if kinds == "music":
        return table.c.kind == music
    return table.c.kind != music if kinds == "podcasts" else true()


def in_period(
    incognito: bool, kinds: Kinds = "music", table: FromClause = fact_play
) -> ColumnElement[bool]:
    """Counted plays of `kinds` that ended within the period's local days."""
    return and_(
        counted(incognito, table),
        table.c.local_date_key >= FIRST,
        table.c.local_date_key < END,
        of_kind(kinds, table),
    )


def is_stream(table: FromClause = fact_play) -> ColumnElement[bool]:
    """Spotify's rule: at least 30 s played is a stream, anything shorter a skip."""
    return table.c.ms_played >= literal_column(str(STREAM_MS))


def day_of_key(key: int) -> date:
    """``20261117`` → ``date(2026, 11, 17)``: the inverse of `date_key`."""
    return date(key // 10000, key // 100 % 100, key % 100)

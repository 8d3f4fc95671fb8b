"""Reads the pipeline needs from the warehouse (the weekly stats live in `insights`)."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import (
    ColumnElement,
    Connection,
    Row,
    String,
    Table,
    any_,
    bindparam,
    false,
    func,
    literal,
    or_,
    select,
    text,
    true,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY

from weekly_wrapped.rows import PlayRow
from weekly_wrapped.warehouse.schema import (
    dim_spelling,
    dim_track,
    dim_user,
    fact_play,
    fact_play_merged,
)


def as_utc(value: datetime) -> datetime:
    """SQLite hands back naive UTC datetimes; PostgreSQL aware ones. Make both aware."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def timezones(conn: Connection, user_keys: Iterable[int]) -> dict[int, str]:
    """Each known user's IANA timezone."""
    keys = sorted(set(user_keys))
    if not keys:
        return {}
    found = conn.execute(
        select(dim_user.c.user_key, dim_user.c.timezone).where(dim_user.c.user_key.in_(keys))
    )
    return {row.user_key: row.timezone for row in found}


def previous_play_ends(
    conn: Connection, first_played_at: dict[int, datetime]
) -> dict[int, datetime]:
    """For each user, the end of the latest stored play before the given time."""
    ends: dict[int, datetime] = {}
    for user_key, before in first_played_at.items():
        latest = conn.execute(
            select(func.max(fact_play.c.played_at_utc)).where(
                fact_play.c.user_key == user_key, fact_play.c.played_at_utc < before
            )
        ).scalar()
        if latest is not None:
            ends[user_key] = as_utc(latest)
    return ends


def users_with_estimates_since(
    conn: Connection, user_keys: Iterable[int], since: datetime
) -> set[int]:
    """Users among `user_keys` with an estimated `ms_played` at or after `since`."""
    keys = sorted(set(user_keys))
    if not keys:
        return set()
    found = conn.execute(
        select(fact_play.c.user_key)
        .where(
            fact_play.c.user_key.in_(keys),
            fact_play.c.played_at_utc >= since,
            fact_play.c.ms_played_estimated == true(),
        )
        .group_by(fact_play.c.user_key)
    )
    return {row.user_key for row in found}


def plays_around(
    conn: Connection, user_key: int, first: datetime, last: datetime
) -> list[Row[Any]]:
    """A user's plays from the one before `first` to the one after `last`, in time order."""
    user = fact_play.c.user_key == user_key
    at = fact_play.c.played_at_utc
    before = select(func.max(at)).where(user, at < first).scalar_subquery()
    after = select(func.min(at)).where(user, at > last).scalar_subquery()
    return list(
        conn.execute(
            select(
                fact_play.c.play_id,
                at.label("played_at"),
                fact_play.c.ms_played,
                fact_play.c.ms_played_estimated,
                dim_track.c.duration_ms,
            )
            .join(dim_track, dim_track.c.track_key == fact_play.c.track_key)
            .where(
                user,
                at >= func.coalesce(before, first),
                at <= func.coalesce(after, last),
            )
            .order_by(at, fact_play.c.play_id)
        )
    )


def set_ms_played(conn: Connection, estimates: dict[str, int]) -> None:
    """Store new estimates of `ms_played`."""
    if estimates:
        conn.execute(
            update(fact_play)
            .where(fact_play.c.play_id == bindparam("pid"))
            .values(ms_played=bindparam("ms")),
            [{"pid": k, "ms": v} for k, v in estimates.items()],
        )


def _one_of(conn: Connection, column: Any, values: Sequence[str]) -> ColumnElement[bool]:
    """``column IN values`` as one parameter: text or an array on PostgreSQL, JSON on SQLite.

    One parameter keeps the statement cached and cheap however many values there are.
    """
    if conn.dialect.name == "postgresql":
        joined = ",".join(values)
        if joined.count(",") == len(values) - 1 and "" not in values:
            # One text cut by the server: psycopg quotes an array's items one by one, 30x slower.
            cut: ColumnElement[bool] = column == any_(
                func.string_to_array(bindparam(None, joined, type_=String), ",")
            )
            return cut
        as_array: ColumnElement[bool] = column == any_(
            bindparam(None, list(values), type_=ARRAY(String))
        )
        return as_array
    each = select(text("value")).select_from(
        func.json_each(bindparam(None, orjson.dumps(list(values)).decode(), type_=String))
    )
    as_json: ColumnElement[bool] = column.in_(each.scalar_subquery())
    return as_json


def known_play_ids(conn: Connection, play_ids: Sequence[str]) -> set[str]:
    """Those of `play_ids` already in the warehouse, stored or merged into another play."""
    if not play_ids:
        return set()
    queries = [
        select(table.c.play_id).where(_one_of(conn, table.c.play_id, play_ids))
        for table in (fact_play, fact_play_merged)
    ]
    return set(conn.execute(union_all(*queries)).scalars())


Span = tuple[datetime, datetime]
MergeablePlay = tuple[PlayRow, str | None]


def mergeable_plays(
    conn: Connection,
    user_key: int,
    song_keys: Collection[str],
    spans: Sequence[Span],
    sources: Collection[str],
) -> list[MergeablePlay]:
    """A user's plays of these songs in these time spans, stored or merged.

    Each comes with the id of the play it is merged into, or None when it is stored.
    """
    if not song_keys or not spans:
        return []
    songs, kinds = sorted(song_keys), sorted(sources)

    def part(table: Table, merged_into: Any) -> Any:
        at = table.c.played_at_utc
        return select(*(table.c[c.name] for c in fact_play.columns), merged_into).where(
            table.c.user_key == user_key,
            table.c.source.in_(kinds),
            _one_of(conn, table.c.song_key, songs),
            or_(*(at.between(first, last) for first, last in spans)),
        )

    stored = part(fact_play, literal(None, String(32)).label("merged_into"))
    merged = part(fact_play_merged, fact_play_merged.c.merged_into)
    return [
        (PlayRow(*row[:-1])._replace(played_at_utc=as_utc(row.played_at_utc)), row[-1])
        for row in conn.execute(union_all(stored, merged))
    ]


@dataclass(frozen=True)
class YearTotals:
    """One year of a user's music (incognito plays left out, as in the stats)."""

    year: int
    plays: int
    minutes: float
    top_artist: str | None
    podcast_minutes: float


def yearly_totals(
    conn: Connection, user_key: int, first_year: int, last_year: int
) -> list[YearTotals]:
    """Plays, minutes and the top artist by minutes, per local year: one grouped scan."""
    year = (fact_play.c.local_date_key // 10000).label("year")
    music = (fact_play.c.kind == "track").label("music")
    groups = conn.execute(
        select(year, fact_play.c.artist_key, music, func.count(), func.sum(fact_play.c.ms_played))
        .where(
            fact_play.c.user_key == user_key,
            fact_play.c.local_date_key >= first_year * 10000,
            fact_play.c.local_date_key < (last_year + 1) * 10000,
            fact_play.c.incognito == false(),
        )
        .group_by(year, fact_play.c.artist_key, music)
    ).all()
    years: dict[int, _Year] = {}
    for y, artist_key, is_music, plays, ms in groups:
        years.setdefault(int(y), _Year()).add(artist_key, bool(is_music), int(plays), int(ms))
    leaders = {k for totals in years.values() for k in totals.leaders()}
    names = _artist_names(conn, user_key, leaders)
    return [years[y].totals(y, names) for y in sorted(years)]


@dataclass
class _Year:
    plays: int = 0
    ms: int = 0
    podcast_ms: int = 0
    by_artist: dict[str, int] = field(default_factory=dict)

    def add(self, artist_key: str, music: bool, plays: int, ms: int) -> None:
        if not music:
            self.podcast_ms += ms
            return
        self.plays += plays
        self.ms += ms
        self.by_artist[artist_key] = self.by_artist.get(artist_key, 0) + ms

    def leaders(self) -> list[str]:
        """The artists with the most minutes (several when tied)."""
        most = max(self.by_artist.values(), default=None)
        return [k for k, ms in self.by_artist.items() if ms == most]

    def totals(self, year: int, names: dict[str, str]) -> YearTotals:
        top = min((names[k] for k in self.leaders()), default=None)
        return YearTotals(
            year, self.plays, round(self.ms / 60000, 1), top, round(self.podcast_ms / 60000, 1)
        )


def _artist_names(conn: Connection, user_key: int, artist_keys: Collection[str]) -> dict[str, str]:
    """Each artist named as the user played it most, then latest."""
    if not artist_keys:
        return {}
    found = conn.execute(
        select(
            fact_play.c.artist_key,
            dim_spelling.c.artist_name,
            func.count().label("plays"),
            func.max(fact_play.c.played_at_utc).label("latest"),
        )
        .join(dim_spelling, dim_spelling.c.spelling_key == fact_play.c.spelling_key)
        .where(
            fact_play.c.user_key == user_key,
            _one_of(conn, fact_play.c.artist_key, sorted(artist_keys)),
        )
        .group_by(fact_play.c.artist_key, dim_spelling.c.artist_name)
        .order_by(
            func.count(), func.max(fact_play.c.played_at_utc), dim_spelling.c.artist_name.desc()
        )
    )
    # In ascending order of preference, so the most played (then latest) spelling wins.
    return {row.artist_key: row.artist_name for row in found}

"""Reads the pipeline needs from the warehouse (the weekly stats live in `insights`)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, Row, bindparam, case, false, func, select, true, update

from weekly_wrapped.processing.transform import STREAM_MS
from weekly_wrapped.warehouse.schema import dim_artist, dim_track, dim_user, fact_play
from weekly_wrapped.weeks import week_date_keys


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


@dataclass(frozen=True)
class WeekSummary:
    """A short look at one week: enough for a first glance, before the full stats."""

    week_start: date
    plays: int
    minutes: float
    streams: int
    skips: int
    top_artists: list[tuple[str, float]]
    top_tracks: list[tuple[str, str, int]]


def week_summary(conn: Connection, user_key: int, week_start: date) -> WeekSummary:
    """Minutes, streams and skips of music, and the top artists and tracks, in SQL."""
    first, last = week_date_keys(week_start)
    in_week = (
        (fact_play.c.user_key == user_key)
        & (fact_play.c.local_date_key >= first)
        & (fact_play.c.local_date_key < last)
        & (fact_play.c.kind == "track")
        & (fact_play.c.incognito == false())
    )
    is_stream = fact_play.c.ms_played >= STREAM_MS
    totals = conn.execute(
        select(
            func.count(),
            func.coalesce(func.sum(fact_play.c.ms_played), 0),
            func.coalesce(func.sum(case((is_stream, 1), else_=0)), 0),
        ).where(in_week)
    ).one()
    minutes = func.sum(fact_play.c.ms_played) / 60000.0
    artists = conn.execute(
        select(dim_artist.c.name, minutes.label("minutes"))
        .join(dim_artist, dim_artist.c.artist_key == fact_play.c.artist_key)
        .where(in_week)
        .group_by(dim_artist.c.artist_key, dim_artist.c.name)
        .order_by(minutes.desc(), dim_artist.c.name)
        .limit(5)
    )
    streams = func.count()
    tracks = conn.execute(
        select(dim_track.c.name, dim_artist.c.name.label("artist"), streams.label("streams"))
        .join(dim_track, dim_track.c.track_key == fact_play.c.track_key)
        .join(dim_artist, dim_artist.c.artist_key == fact_play.c.artist_key)
        .where(in_week & is_stream)
        .group_by(fact_play.c.song_key, dim_track.c.name, dim_artist.c.name)
        .order_by(streams.desc(), dim_track.c.name)
        .limit(5)
    )
    plays, ms, stream_count = totals
    return WeekSummary(
        week_start=week_start,
        plays=int(plays),
        minutes=round(int(ms) / 60000, 1),
        streams=int(stream_count),
        skips=int(plays) - int(stream_count),
        top_artists=[(r.name, round(float(r.minutes), 1)) for r in artists],
        top_tracks=[(r.name, r.artist, int(r.streams)) for r in tracks],
    )


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

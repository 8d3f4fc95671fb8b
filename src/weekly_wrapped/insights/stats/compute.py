"""The stats of one user over a week or any range of days (DESIGN §6), assembled from SQL reads."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from math import log

from sqlalchemy import Connection, func, select

from weekly_wrapped.errors import TerminalError
from weekly_wrapped.insights.models import ListeningStats, Podcasts
from weekly_wrapped.insights.stats import discoveries, rankings
from weekly_wrapped.insights.stats.coverage import read_coverage
from weekly_wrapped.insights.stats.entries import share, to_minutes
from weekly_wrapped.insights.stats.period import Period, day_of_key
from weekly_wrapped.insights.stats.rhythm import read_rhythm, read_sessions, read_streak
from weekly_wrapped.insights.stats.totals import Trend, read_totals, read_trend
from weekly_wrapped.warehouse.schema import fact_play
from weekly_wrapped.warehouse.users import get_user
from weekly_wrapped.weeks import InvalidWeek, parse_week, week_label


class InvalidPeriod(TerminalError):
    """A range of days is empty or backwards."""

    hint = "Give a first day on or before the last day, e.g. --from 2026-01-01 --to 2026-12-31."


def weekly_stats(
    conn: Connection,
    user_key: int,
    week_start: date | str,
    *,
    include_incognito: bool = False,
    now: datetime | None = None,
) -> ListeningStats:
    """The stats of one ISO week in the user's timezone, with the weeks before it.

    `week_start` is the Monday that starts the week, or an ISO week such as
    ``2026-W47``. `now` (default: the clock) only decides whether the week is over.
    """
    monday = _monday(week_start)
    user = get_user(conn, user_key)
    week = Period(user_key, user.timezone, monday, monday + timedelta(days=7), include_incognito)
    return _stats(conn, week, now, trend=read_trend(conn, week))


def range_stats(
    conn: Connection,
    user_key: int,
    start: date,
    end: date,
    *,
    include_incognito: bool = False,
    now: datetime | None = None,
) -> ListeningStats:
    """The stats of the local days from `start` up to, not including, `end`."""
    if end <= start:
        raise InvalidPeriod(f"the range {start} to {end} holds no days (its end is exclusive)")
    user = get_user(conn, user_key)
    return _stats(conn, Period(user_key, user.timezone, start, end, include_incognito), now)


def first_listening_day(conn: Connection, user_key: int) -> date | None:
    """The local day of the user's first play of any kind, or None before any."""
    first = conn.execute(
        select(func.min(fact_play.c.local_date_key)).where(fact_play.c.user_key == user_key)
    ).scalar()
    return None if first is None else day_of_key(int(first))


def _monday(week_start: date | str) -> date:
    monday = parse_week(week_start) if isinstance(week_start, str) else week_start
    if monday.weekday() != 0:
        raise InvalidWeek(f"{monday} is a {monday:%A}, not the Monday that starts a week")
    return monday


def _stats(
    conn: Connection, period: Period, now: datetime | None, trend: Trend | None = None
) -> ListeningStats:
    totals = read_totals(conn, period)
    rhythm = read_rhythm(conn, period)
    artist_ms = rankings.artist_ms(conn, period)
    new_artists = discoveries.new_artists(conn, period)
    new_tracks = discoveries.new_tracks(conn, period)
    rediscoveries = discoveries.rediscoveries(conn, period)
    return ListeningStats(
        user_id=period.user_key,
        timezone=period.timezone,
        period_start=period.start,
        period_end=period.end,
        week=week_label(period.start) if trend is not None else None,
        plays=totals.plays,
        minutes_listened=to_minutes(totals.ms),
        minutes_estimated_share=share(totals.estimated_ms, totals.ms),
        streams=totals.streams,
        skips=totals.skips,
        distinct_tracks=totals.distinct_tracks,
        distinct_artists=totals.distinct_artists,
        distinct_albums=totals.distinct_albums,
        top_tracks=rankings.top_tracks(conn, period),
        top_artists=rankings.top_artists(conn, period),
        top_albums=rankings.top_albums(conn, period),
        top_genres=rankings.top_genres(conn, period),
        daily_minutes=rhythm.daily_minutes(),
        heatmap=rhythm.heatmap(),
        peak_hour=rhythm.peak_hour(),
        busiest_day=rhythm.busiest_day(),
        sessions=read_sessions(conn, period),
        new_artists=new_artists.entries,
        new_artists_total=new_artists.total,
        new_tracks=new_tracks.entries,
        new_tracks_total=new_tracks.total,
        rediscoveries=rediscoveries.entries,
        rediscoveries_total=rediscoveries.total,
        on_repeat=rankings.on_repeat(conn, period),
        streak_days=read_streak(conn, period),
        vs_last_week=trend.vs_last_week if trend is not None else None,
        trend_4w=trend.minutes if trend is not None else None,
        top_artist_share=share(artist_ms[0] if artist_ms else 0, totals.ms),
        artist_diversity=diversity(artist_ms),
        late_night_share=rhythm.late_night_share(),
        weekend_share=rhythm.weekend_share(),
        podcasts=Podcasts(
            minutes=to_minutes(totals.podcast_ms),
            episodes=totals.episodes,
            top_shows=rankings.top_shows(conn, period),
        ),
        coverage=read_coverage(conn, period, now),
    )


def diversity(ms_by_artist: list[int]) -> float:
    """Shannon entropy of the artists' minutes over its maximum: 0 for one artist, 1 for equal."""
    played = [ms for ms in ms_by_artist if ms > 0]
    if len(played) < 2:
        return 0.0
    total = sum(played)
    entropy = -sum(ms / total * log(ms / total) for ms in played)
    return round(min(entropy / log(len(played)), 1.0), 3)

"""What the recap email shows, worked out once for both the HTML and the plain text.

Every number is written with the story's formatters (`insights.story`), so the email
and the story say the same thing the same way. Names stay raw here: the HTML
template escapes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from weekly_wrapped.insights import story as words
from weekly_wrapped.insights.models import Entry, ListeningStats, Recommendation, Story

SHORT_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
HOUR_MARKS = ("midnight", "6 am", "noon", "6 pm")
OFFLINE_PICKS = "Picked from your own listening history"
"""The offline writer recommends only songs the user has streamed (`insights.history`)."""
LLM_PICKS = "Suggested by AI, new to you"
"""An LLM's picks are songs the user never played (`insights.recommend`)."""
UNKNOWN_PICKS = "Picked for you"
"""When the caller does not say which writer made the picks."""


@dataclass(frozen=True)
class Figure:
    """One of the big numbers at the top: ``12.5`` ``hours listened``."""

    value: str
    label: str


@dataclass(frozen=True)
class Ranked:
    """A line of a top-5 list."""

    rank: str
    """Its place; a place shared with others shows as "=2"."""
    name: str
    detail: str | None
    amount: str
    art_url: str | None
    link: str | None
    share: float
    """Its size against the first line, 0–1, for the bar behind it."""


@dataclass(frozen=True)
class Column:
    """A label under one bar of a chart."""

    label: str
    value: str
    highlight: bool


@dataclass(frozen=True)
class Pick:
    """A song to try next; `link` opens it in Spotify, and only a verified pick has one."""

    track: str
    artist: str
    why: str
    link: str | None


@dataclass(frozen=True)
class RecapView:
    """Everything the templates print, already formatted."""

    name: str
    dates: str
    week: str
    story: Story
    has_plays: bool
    figures: list[Figure]
    change: str | None
    days: list[Column]
    weeks: list[Column]
    rhythm: str | None
    top_tracks: list[Ranked]
    top_artists: list[Ranked]
    genres: list[str]
    gaps: list[str]
    picks: list[Pick]
    picks_note: str | None
    """Where the picks come from, said when any of them is not verified on Spotify."""


def subject(week_start: date) -> str:
    """``Your week in music · 17–23 Nov``."""
    return f"Your week in music · {week_range(week_start)}"


def week_range(week_start: date) -> str:
    """``17–23 Nov``, or ``27 Oct – 2 Nov`` across a month."""
    end = week_start + timedelta(days=6)
    if end.month == week_start.month:
        return f"{week_start.day}–{end.day} {end:%b}"
    return f"{week_start.day} {week_start:%b} – {end.day} {end:%b}"


def recap_view(
    name: str, stats: ListeningStats, story: Story, writer: str | None = None
) -> RecapView:
    """The view of one user's week; `writer` (the recap's, e.g. ``offline``) says whose picks."""
    picks = [_pick(rec) for rec in story.recommendations]
    return RecapView(
        name=name,
        dates=f"{week_range(stats.period_start)} {stats.period_start + timedelta(days=6):%Y}",
        week=stats.week or "",
        story=story,
        has_plays=stats.plays > 0,
        figures=_figures(stats),
        change=_change(stats),
        days=_days(stats),
        weeks=_weeks(stats),
        rhythm=_rhythm(stats),
        top_tracks=_ranked(stats.top_tracks, by="streams"),
        top_artists=_ranked(stats.top_artists, by="minutes"),
        genres=[genre.name for genre in stats.top_genres],
        gaps=[_gap(gap.start, gap.end, gap.reason) for gap in stats.coverage.gaps],
        picks=picks,
        picks_note=picks_note(picks, writer),
    )


def picks_note(picks: list[Pick], writer: str | None) -> str | None:
    """What a reader should know about picks without a Spotify link; None when all have one."""
    unlinked = sum(pick.link is None for pick in picks)
    if unlinked == 0:
        return None
    caveat = "not checked against Spotify's catalogue"
    if unlinked < len(picks):
        caveat = f"those without a link were {caveat}"
    return f"{_picks_origin(writer)}; {caveat}."


def _picks_origin(writer: str | None) -> str:
    if writer is None:
        return UNKNOWN_PICKS
    # The offline writer picks from the user's own plays; an LLM suggests songs they never played.
    return OFFLINE_PICKS if writer == "offline" else LLM_PICKS


def _pick(rec: Recommendation) -> Pick:
    url = rec.spotify_url or ""
    link = url if rec.verified and url.startswith("https://") else None
    return Pick(track=rec.track, artist=rec.artist, why=rec.why, link=link)


def _figures(stats: ListeningStats) -> list[Figure]:
    hours = words.hours(stats.minutes_listened).split(" ")
    return [
        Figure(hours[0], f"{hours[1]} listened"),
        Figure(words.count(stats.streams), "streams" if stats.streams != 1 else "stream"),
        Figure(words.count(stats.distinct_artists), "artists"),
        Figure(str(stats.streak_days), "day streak" if stats.streak_days == 1 else "days in a row"),
    ]


def _change(stats: ListeningStats) -> str | None:
    delta = stats.vs_last_week
    if delta is None or delta.minutes == 0:
        return None
    direction = "more" if delta.minutes > 0 else "less"
    return f"{words.in_minutes(abs(delta.minutes))} {direction} than last week"


def _days(stats: ListeningStats) -> list[Column]:
    return [
        Column(SHORT_DAYS[day], words.minutes(minutes), day == stats.busiest_day)
        for day, minutes in enumerate(stats.daily_minutes)
    ]


def _weeks(stats: ListeningStats) -> list[Column]:
    trend = stats.trend_4w or []
    last = len(trend) - 1
    return [
        Column(
            "This week"
            if i == last
            else _day_month(stats.period_start - timedelta(weeks=last - i)),
            words.minutes(minutes),
            i == last,
        )
        for i, minutes in enumerate(trend)
    ]


def _day_month(day: date) -> str:
    return f"{day.day} {day:%b}"


def _rhythm(stats: ListeningStats) -> str | None:
    if stats.peak_hour is None or stats.busiest_day is None:
        return None
    return (
        f"Your busiest day was {words.day_name(stats.busiest_day)}, "
        f"and your favourite hour {words.clock(stats.peak_hour)}."
    )


def _places(entries: list[Entry], by: str) -> list[str]:
    """Standard competition places on the measure shown: 1, =2, =2, 4."""
    values = [getattr(e, by) for e in entries]
    places = [values.index(v) + 1 for v in values]
    return [f"={p}" if places.count(p) > 1 else str(p) for p in places]


def _ranked(entries: list[Entry], *, by: str) -> list[Ranked]:
    top = max((getattr(e, by) for e in entries), default=0) or 1
    places = _places(entries[:5], by)
    return [
        Ranked(
            rank=places[i],
            name=entry.name,
            detail=entry.artist,
            amount=words.counted(entry.streams, "stream")
            if by == "streams"
            else words.in_minutes(entry.minutes).replace("minutes", "min"),
            art_url=entry.image_url if (entry.image_url or "").startswith("https://") else None,
            link=entry.spotify_url if (entry.spotify_url or "").startswith("https://") else None,
            share=getattr(entry, by) / top,
        )
        for i, entry in enumerate(entries[:5])
    ]


def _gap(start: datetime, end: datetime, reason: str) -> str:
    def moment(at: datetime) -> str:
        at = at.astimezone(UTC)
        return f"{at:%a} {at.day} {at:%b %H:%M}"

    return f"{moment(start)} – {moment(end)} UTC: {reason}"

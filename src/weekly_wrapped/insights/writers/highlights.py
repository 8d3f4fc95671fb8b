"""Highlights: up to three moments of the week, most remarkable first."""

from __future__ import annotations

from weekly_wrapped.insights import story as fmt
from weekly_wrapped.insights.models import ListeningStats
from weekly_wrapped.insights.writers.voice import Voice

MAX_HIGHLIGHTS = 3
REPEAT_WORTH_NOTING = 3
"""Plays of one song in one day worth a highlight (fewer than being "on repeat")."""

STREAK_WORTH_NOTING = 3
"""Days in a row worth a highlight."""

SESSION_WORTH_NOTING = 30
"""Minutes of unbroken listening worth a highlight."""


def highlights(stats: ListeningStats, voice: Voice) -> list[str]:
    """Up to three moments of the week, most remarkable first."""
    found = [
        _repeat_highlight(stats),
        _new_artist_highlight(stats),
        _rediscovery_highlight(stats, voice),
        _streak_highlight(stats),
        _session_highlight(stats),
        _busiest_day_highlight(stats),
        _genre_highlight(stats),
        podcast_highlight(stats),
    ]
    return [h for h in found if h][:MAX_HIGHLIGHTS]


def _repeat_highlight(stats: ListeningStats) -> str | None:
    repeat = stats.on_repeat
    if repeat is None or repeat.plays < REPEAT_WORTH_NOTING:
        return None
    day = fmt.day_name(repeat.day.weekday())
    return f"{repeat.name} on repeat: {fmt.counted(repeat.plays, 'play')} on {day}."


def _new_artist_highlight(stats: ListeningStats) -> str | None:
    if not stats.new_artists:
        return None
    found = stats.new_artists[0]
    return f"New to you: {found.name}, {fmt.in_minutes(found.minutes)} in."


def _rediscovery_highlight(stats: ListeningStats, voice: Voice) -> str | None:
    if not stats.rediscoveries:
        return None
    artist = stats.rediscoveries[0].name
    return voice.pick(
        "rediscovery",
        (
            f"Welcome back, {artist}: back after a long break.",
            f"{artist} returned after a long gap.",
        ),
    )


def _streak_highlight(stats: ListeningStats) -> str | None:
    if stats.streak_days < STREAK_WORTH_NOTING:
        return None
    return f"{fmt.count(stats.streak_days)} days in a row with music."


def _session_highlight(stats: ListeningStats) -> str | None:
    if stats.sessions.longest_minutes < SESSION_WORTH_NOTING:
        return None
    return f"Your longest session ran {fmt.in_minutes(stats.sessions.longest_minutes)}."


def _busiest_day_highlight(stats: ListeningStats) -> str | None:
    day = stats.busiest_day
    if day is None or day >= len(stats.daily_minutes) or stats.daily_minutes[day] <= 0:
        return None
    return f"{fmt.day_name(day)} was your busiest day, with {fmt.in_minutes(stats.daily_minutes[day])}."


def _genre_highlight(stats: ListeningStats) -> str | None:
    if not stats.top_genres:
        return None
    genre = stats.top_genres[0]
    return f"Top genre: {genre.name}, with {fmt.in_minutes(genre.minutes)}."


def podcast_highlight(stats: ListeningStats) -> str | None:
    if stats.podcasts.minutes <= 0:
        return None
    shows = stats.podcasts.top_shows
    led = f", led by {shows[0].name}" if shows else ""
    return f"{fmt.in_minutes(stats.podcasts.minutes).capitalize()} of podcasts{led}."

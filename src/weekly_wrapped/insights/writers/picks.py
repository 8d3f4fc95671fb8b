"""Recommendations from the user's own history, each with a reason drawn from the facts.

A reason names only what the stats or the history say: a favourite's last month,
or a top artist's minutes this week. Picks carry a Spotify link, and count as
verified, only when the warehouse knows the track's Spotify id.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from weekly_wrapped.insights import story as fmt
from weekly_wrapped.insights.history import History, PastTrack
from weekly_wrapped.insights.models import ListeningStats, Recommendation, tied_at_top
from weekly_wrapped.insights.writers.voice import Voice

MAX_PICKS = 5
FAVOURITES_FIRST = 3
"""Favourites gone quiet lead; then this week's top artists; then more favourites."""

SPOTIFY_TRACK_URL = "https://open.spotify.com/track/{}"

Why = Literal["favourite", "top_artist"]


def recommendations(stats: ListeningStats, history: History, voice: Voice) -> list[Recommendation]:
    """Up to five picks from `history`, never the same song twice."""
    favourites = history.favourites_gone_quiet
    ordered: list[tuple[PastTrack, Why]] = [
        *((t, "favourite") for t in favourites[:FAVOURITES_FIRST]),
        *((t, "top_artist") for t in history.more_from_top_artists),
        *((t, "favourite") for t in favourites[FAVOURITES_FIRST:]),
    ]
    picks: list[Recommendation] = []
    seen: set[tuple[str, str]] = set()
    for past, why in ordered:
        key = (past.track.casefold(), past.artist.casefold())
        if key in seen or len(picks) == MAX_PICKS:
            continue
        seen.add(key)
        picks.append(_recommend(stats, past, why, voice))
    return picks


def _recommend(stats: ListeningStats, past: PastTrack, why: Why, voice: Voice) -> Recommendation:
    reason = (
        _favourite_reason(stats, past, voice)
        if why == "favourite"
        else _top_artist_reason(stats, past, voice)
    )
    return Recommendation(
        artist=past.artist,
        track=past.track,
        why=reason,
        spotify_url=SPOTIFY_TRACK_URL.format(past.spotify_id) if past.spotify_id else None,
        verified=past.spotify_id is not None,
    )


def last_heard(last_played: date, period_start: date) -> str:
    """When a song was last played, in words without numbers: ``in March last year``."""
    month = fmt.month_name(last_played.month)
    if last_played.year == period_start.year:
        return f"in {month}"
    if last_played.year == period_start.year - 1:
        return f"in {month} last year"
    return "over a year ago"


def _favourite_reason(stats: ListeningStats, past: PastTrack, voice: Voice) -> str:
    when = last_heard(past.last_played, stats.period_start)
    options = (
        f"A favourite you streamed often, last played {when}.",
        f"You had it on heavy rotation, then stopped; the last play was {when}.",
        f"Loved before, last heard {when}: worth another listen.",
    )
    return voice.pick(f"why:{past.artist}:{past.track}", options)


def _top_artist_reason(stats: ListeningStats, past: PastTrack, voice: Voice) -> str:
    ranked = [a.name for a in stats.top_artists]
    if past.artist not in ranked:
        return f"By {past.artist}, from your history, and not played this week."
    entry = stats.top_artists[ranked.index(past.artist)]
    played = fmt.in_minutes(entry.minutes)
    leaders = tied_at_top(stats.top_artists, "minutes")
    if len(leaders) > 1 and entry in leaders:
        return (
            f"{past.artist} tied for your top artist this week with {played}; "
            "you know this track from before, but it did not come up."
        )
    if entry is stats.top_artists[0]:
        return voice.pick(
            f"why:{past.artist}:{past.track}",
            (
                f"{past.artist} was your top artist this week with {played}; "
                "you know this track from before, but it did not come up.",
                f"More from {past.artist}, your top artist this week: "
                "already in your history, not played this week.",
            ),
        )
    return (
        f"You gave {past.artist} {played} this week, but not this track, "
        "which you have streamed before."
    )

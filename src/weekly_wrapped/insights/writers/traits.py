"""What kind of week it was, read from the stats: the offline writer's choice of words.

Each threshold is a judgement about what a listener would recognise in their own
week; the numbers behind them are in the stats, never in the words.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from weekly_wrapped.insights.models import ListeningStats

BIG_WEEK = 1.25
"""A week with this many times the recent weekly average is a big week."""

QUIET_WEEK = 0.75
"""A week with at most this share of the recent weekly average is a quiet one."""

LOYAL_SHARE = 0.35
"""A top artist with over a third of the minutes makes a loyal listener."""

EXPLORER_NEW_ARTISTS = 3
"""New artists in one week that make an explorer."""

EXPLORER_DIVERSITY = 0.9
"""Normalized artist entropy that makes an explorer without new artists.

Most weeks with a dozen artists already score above 0.8, so the bar is high:
only minutes spread almost evenly count.
"""

EXPLORER_MAX_SHARE = 0.2
"""With spread alone, the top artist must also hold less than this share."""

EXPLORER_ARTISTS = 5
"""Fewer distinct artists than this is too few to call anyone an explorer."""

NIGHT_OWL_SHARE = 0.2
"""Share of minutes between midnight and five that makes a night owl."""

WEEKEND_SHARE = 0.5
"""Share of minutes on Saturday and Sunday (two days of seven) worth a mention."""

REPEAT_PLAYS = 4
"""Plays of one track in one day that count as having it on repeat."""

RESTLESS_SKIPS = 0.35
"""Share of plays skipped from which the week reads as restless."""

PATIENT_SKIPS = 0.1
"""Share of plays skipped below which the week reads as patient."""

PATIENT_MIN_PLAYS = 10
"""Too few plays say nothing about patience or restlessness."""

Volume = Literal["big", "quiet", "steady", "new"]
Listener = Literal["explorer", "loyal", "balanced"]
Skipping = Literal["restless", "patient", "usual"]


@dataclass(frozen=True)
class Traits:
    """The shape of a week, in words a writer can choose phrasing by."""

    volume: Volume
    listener: Listener
    skipping: Skipping
    night_owl: bool
    weekend: bool
    every_day: bool
    on_repeat: bool


def read_traits(stats: ListeningStats) -> Traits:
    """The traits of `stats`."""
    return Traits(
        volume=volume(stats),
        listener=listener(stats),
        skipping=skipping(stats),
        night_owl=stats.minutes_listened > 0 and stats.late_night_share >= NIGHT_OWL_SHARE,
        weekend=stats.minutes_listened > 0 and stats.weekend_share >= WEEKEND_SHARE,
        every_day=len(stats.daily_minutes) == 7 and all(m > 0 for m in stats.daily_minutes),
        on_repeat=stats.on_repeat is not None and stats.on_repeat.plays >= REPEAT_PLAYS,
    )


def recent_average(stats: ListeningStats) -> float | None:
    """Mean minutes of the weeks before this one in `trend_4w`; None without any."""
    if not stats.trend_4w or len(stats.trend_4w) < 2:
        return None
    before = stats.trend_4w[:-1]
    average = sum(before) / len(before)
    return average if average > 0 else None


def volume(stats: ListeningStats) -> Volume:
    """Big, quiet or steady against the recent weeks; new when there is nothing to compare."""
    average = recent_average(stats)
    if average is None:
        return "new"
    if stats.minutes_listened >= BIG_WEEK * average:
        return "big"
    if stats.minutes_listened <= QUIET_WEEK * average:
        return "quiet"
    return "steady"


def listener(stats: ListeningStats) -> Listener:
    """Loyal to a top artist, exploring widely, or in between."""
    if stats.top_artists and stats.top_artist_share >= LOYAL_SHARE:
        return "loyal"
    if stats.distinct_artists < EXPLORER_ARTISTS:
        return "balanced"
    discovering = new_artist_count(stats) >= EXPLORER_NEW_ARTISTS
    spread = (
        stats.artist_diversity >= EXPLORER_DIVERSITY and stats.top_artist_share < EXPLORER_MAX_SHARE
    )
    return "explorer" if discovering or spread else "balanced"


def new_artist_count(stats: ListeningStats) -> int:
    """How many artists were new this week (the list itself is capped)."""
    return max(stats.new_artists_total, len(stats.new_artists))


def skipping(stats: ListeningStats) -> Skipping:
    """Restless (many skips), patient (few) or usual."""
    if stats.plays < PATIENT_MIN_PLAYS:
        return "usual"
    rate = stats.skips / stats.plays
    if rate >= RESTLESS_SKIPS:
        return "restless"
    if rate <= PATIENT_SKIPS:
        return "patient"
    return "usual"

"""The shape of the numbers (DESIGN §6) and of the story (DESIGN §7).

Field names are a public contract: `wrapped recap --format json` prints them, the
writers read them, and the grounding check matches the story against them.
Minutes carry one decimal; shares run from 0 to 1 with three decimals.
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Entry(_Model):
    """One line of a top list, or a new artist or track."""

    name: str
    artist: str | None = None
    streams: int
    minutes: float
    image_url: str | None = None
    spotify_url: str | None = None


def tied_at_top(entries: list[Entry], by: str) -> list[Entry]:
    """The entries that share the first place on the measure shown (`streams` or `minutes`).

    Rankings break ties by the other measure so the order is stable, but a reader
    sees one number: two tracks at 4 streams are tied, whatever their minutes.
    """
    if not entries:
        return []
    first = getattr(entries[0], by)
    return [e for e in entries if getattr(e, by) == first]


class Sessions(_Model):
    """Listening sessions: a gap of more than 20 minutes starts a new one."""

    count: int
    longest_minutes: float


class OnRepeat(_Model):
    """The most plays of one track in one day."""

    name: str
    artist: str | None
    plays: int
    day: date


class WeekDelta(_Model):
    """This week minus last week."""

    minutes: float
    streams: int
    distinct_artists: int


class Podcasts(_Model):
    minutes: float
    episodes: int
    top_shows: list[Entry]


class Gap(_Model):
    """A stretch where plays may be missing, so the numbers may be low."""

    start: datetime
    end: datetime
    reason: str


class Coverage(_Model):
    complete: bool
    gaps: list[Gap] = Field(default_factory=list)


class ListeningStats(_Model):
    """The numbers for one user over a period: an ISO week, or any range of days.

    `period_end` is exclusive. Weekly fields (`week`, `vs_last_week`, `trend_4w`)
    are null for other ranges.
    """

    user_id: int
    timezone: str
    period_start: date
    period_end: date
    week: str | None = None

    plays: int
    minutes_listened: float
    minutes_estimated_share: float
    streams: int
    skips: int
    distinct_tracks: int
    distinct_artists: int
    distinct_albums: int

    top_tracks: list[Entry]
    top_artists: list[Entry]
    top_albums: list[Entry]
    top_genres: list[Entry]

    daily_minutes: list[float]
    heatmap: list[list[float]]
    peak_hour: int | None
    busiest_day: int | None
    sessions: Sessions

    new_artists: list[Entry]
    new_tracks: list[Entry]
    rediscoveries: list[Entry]
    new_artists_total: int = 0
    """How many artists are new; `new_artists` lists at most the first 10 by minutes."""
    new_tracks_total: int = 0
    """How many songs are new; `new_tracks` lists at most the first 10 by minutes."""
    rediscoveries_total: int = 0
    """How many artists are back; `rediscoveries` lists at most the first 10 by minutes."""
    on_repeat: OnRepeat | None
    streak_days: int

    vs_last_week: WeekDelta | None = None
    trend_4w: list[float] | None = None

    top_artist_share: float
    artist_diversity: float
    late_night_share: float
    weekend_share: float

    podcasts: Podcasts
    coverage: Coverage


class Recommendation(_Model):
    artist: str
    track: str
    why: str
    spotify_url: str | None = None
    verified: bool = False


class Story(_Model):
    """What a writer makes of the numbers (DESIGN §7)."""

    headline: str
    summary: str
    mood: str
    highlights: list[str] = Field(max_length=3)
    recommendations: list[Recommendation] = Field(max_length=5)
    closing: str

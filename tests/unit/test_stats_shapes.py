"""The arithmetic the stats do after SQL: rounding, shares, diversity, the grid, streaks."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from weekly_wrapped.insights.models import (
    Coverage,
    Entry,
    Gap,
    ListeningStats,
    OnRepeat,
    Podcasts,
    Sessions,
    WeekDelta,
)
from weekly_wrapped.insights.stats import diversity
from weekly_wrapped.insights.stats.entries import share, spotify_url, to_minutes
from weekly_wrapped.insights.stats.period import Period, day_of_key
from weekly_wrapped.insights.stats.rhythm import Rhythm, _runs


@pytest.mark.parametrize(
    ("ms_by_artist", "expected"),
    [
        ([], 0.0),
        ([600_000], 0.0),  # one artist: no spread at all
        ([600_000, 0], 0.0),  # an artist with no minutes does not count
        ([300_000, 300_000], 1.0),
        ([1, 1, 1, 1], 1.0),
        ([840_000, 380_000, 60_000], 0.710),
        ([990_000, 10_000], 0.081),
    ],
)
def test_diversity_runs_from_one_artist_to_an_even_spread(
    ms_by_artist: list[int], expected: float
) -> None:
    assert diversity(ms_by_artist) == expected


def test_minutes_and_shares_are_rounded_once_and_never_divide_by_zero() -> None:
    assert to_minutes(1_280_000) == 21.3
    assert to_minutes(0) == 0.0
    assert share(840_000, 1_280_000) == 0.656
    assert share(0, 0) == 0.0


def test_links_exist_only_for_real_spotify_ids() -> None:
    assert spotify_url("track", "4uLU6hMCjMI75M1A2tKUQC") == (
        "https://open.spotify.com/track/4uLU6hMCjMI75M1A2tKUQC"
    )
    assert spotify_url("show", "5CfCWKI5pZ28U0uOzXkDHe") == (
        "https://open.spotify.com/show/5CfCWKI5pZ28U0uOzXkDHe"
    )
    assert spotify_url("artist", None) is None


def grid(*cells: tuple[int, int, int]) -> Rhythm:
    ms = [[0] * 24 for _ in range(7)]
    for day, hour, value in cells:
        ms[day][hour] = value
    return Rhythm(ms)


def test_the_grid_gives_peaks_ties_to_the_earliest_and_shares_of_its_total() -> None:
    week = grid((0, 23, 60_000), (2, 3, 60_000), (5, 3, 60_000), (6, 12, 120_000))

    assert week.peak_hour() == 3  # 2 minutes at 03:00 (two days), tied with 12:00
    assert week.busiest_day() == 6
    assert week.daily_minutes() == [1.0, 0.0, 1.0, 0.0, 0.0, 1.0, 2.0]
    assert week.late_night_share() == 0.4
    assert week.weekend_share() == 0.6


def test_an_empty_grid_has_no_peak_and_no_shares() -> None:
    week = grid()
    assert (week.peak_hour(), week.busiest_day()) == (None, None)
    assert (week.late_night_share(), week.weekend_share()) == (0.0, 0.0)


def test_runs_join_consecutive_days_only() -> None:
    days = [date(2026, 2, 27), date(2026, 2, 28), date(2026, 3, 1), date(2026, 3, 3)]
    assert _runs(days) == [
        (date(2026, 2, 27), date(2026, 3, 1)),
        (date(2026, 3, 3), date(2026, 3, 3)),
    ]
    assert _runs([]) == []


def test_a_period_starts_at_local_midnight_whatever_the_offset() -> None:
    summer = Period(1, "Europe/Berlin", date(2026, 3, 30), date(2026, 4, 6))
    far_east = Period(1, "Pacific/Tongatapu", date(2026, 11, 16), date(2026, 11, 23))
    assert summer.start_utc == datetime(2026, 3, 29, 22, 0, tzinfo=UTC)
    assert far_east.start_utc == datetime(2026, 11, 15, 11, 0, tzinfo=UTC)
    assert (summer.first_key, summer.end_key) == (20260330, 20260406)
    assert day_of_key(20261231) == date(2026, 12, 31)


def test_a_period_at_the_ends_of_the_calendar_stops_there_instead_of_overflowing() -> None:
    first = Period(1, "Asia/Tokyo", date.min, date(1, 1, 8))  # then UTC+9:19
    last = Period(1, "Pacific/Pago_Pago", date(9999, 12, 24), date.max)
    assert first.start_utc == datetime.min.replace(tzinfo=UTC)
    assert first.reaching_back(10_000).start == date.min
    assert first.reaching_back(10_000).params()["start_utc"] == first.start_utc
    assert last.end_utc == datetime(9999, 12, 31, 11, 0, tzinfo=UTC)
    assert last.reaching_back(7).start == date(9999, 12, 17)


def test_every_field_of_the_stats_is_defined_in_the_docs() -> None:
    reference = (Path(__file__).resolve().parents[2] / "docs" / "stats.md").read_text()
    fields = [*ListeningStats.model_fields, *Entry.model_fields, *Sessions.model_fields,
              *OnRepeat.model_fields, *WeekDelta.model_fields, *Podcasts.model_fields,
              *Coverage.model_fields, *Gap.model_fields]  # fmt: skip
    named = {
        word for span in re.findall(r"`([^`]+)`", reference) for word in re.findall(r"\w+", span)
    }
    assert [name for name in fields if name not in named] == []

"""Properties of the stats over generated fortnights, on both databases.

The fortnight is 2026-W12 and W13, so Berlin's change to summer time falls inside
it. Minutes are rounded to one decimal, so sums of rounded parts may differ from
the rounded whole by at most 0.05 per part.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from tests.factories import episode, play
from weekly_wrapped.events import PlayEvent
from weekly_wrapped.insights.models import ListeningStats
from weekly_wrapped.insights.stats import range_stats, weekly_stats
from weekly_wrapped.processing.embedded import EmbeddedProcessor
from weekly_wrapped.warehouse import users

WEEK_A = date(2026, 3, 16)
WEEK_B = WEEK_A + timedelta(days=7)
LATER = datetime(2027, 1, 1, tzinfo=UTC)
HALF_A_TENTH = 0.05
ROUNDING_SLACK = 1e-9

Spec = tuple[int, str, str, int, str, bool]

plays_strategy = st.lists(
    st.tuples(
        st.integers(0, 14 * 24 * 60 - 1),  # local minute of the fortnight
        st.sampled_from(["Nova Lane", "Kite Choir", "Old Friend"]),
        st.sampled_from(["Undertow", "Paper Sun"]),
        st.integers(0, 600_000),  # ms_played: 30 000 and above is a stream
        st.sampled_from(["track", "track", "track", "episode"]),
        st.booleans(),  # incognito (tracks only)
    ),
    max_size=30,
)
zones = st.sampled_from(["Europe/Berlin", "Pacific/Tongatapu", "Pacific/Honolulu", "UTC"])


def event(user: int, zone: str, spec: Spec) -> PlayEvent:
    minute, artist, title, ms, kind, incognito = spec
    local = datetime.combine(WEEK_A, time(), ZoneInfo(zone)) + timedelta(minutes=minute)
    at = local.astimezone(UTC)
    if kind == "episode":
        return episode(user, at, show=artist, title=title, ms_played=ms)
    return play(user, at, artist=artist, title=title, ms_played=ms, incognito=incognito)


def within(rounded_parts: list[float], whole: float, nonzero_parts: int) -> bool:
    """Whether rounded parts add up to the rounded whole, up to their rounding.

    Each part that holds any listening may be off by half a tenth, even one that
    rounds to zero, and so may the whole.
    """
    slack = HALF_A_TENTH * (nonzero_parts + 1) + ROUNDING_SLACK
    return abs(sum(rounded_parts) - whole) <= slack


def load(engine: Engine, zone: str, specs: list[Spec]) -> tuple[int, list[PlayEvent]]:
    with engine.begin() as conn:
        user = users.add_user(conn, name="Prop", timezone=zone)
    unique: dict[str, PlayEvent] = {}
    for spec in specs:  # a repeated play is one play, and the first one stays
        unique.setdefault((e := event(user, zone, spec)).event_id, e)
    events = list(unique.values())
    EmbeddedProcessor(engine).process(events)
    return user, events


def counted_music(events: list[PlayEvent], zone: str, week: date) -> list[tuple[datetime, int]]:
    """(local end, ms_played) of the music the stats count in `week`, straight from the events."""
    ends = [
        (e.played_at.astimezone(ZoneInfo(zone)), e.ms_played or 0)
        for e in events
        if e.kind == "track" and not e.extras.incognito
    ]
    return [(end, ms) for end, ms in ends if week <= end.date() < week + timedelta(days=7)]


def assert_week(week: ListeningStats, music: list[tuple[datetime, int]]) -> None:
    streams = sum(1 for _, ms in music if ms >= 30_000)
    assert (week.plays, week.streams, week.skips) == (len(music), streams, len(music) - streams)
    assert week.minutes_listened == round(sum(ms for _, ms in music) / 60_000, 1)
    days = {end.weekday() for end, _ in music}
    cells = {(end.weekday(), end.hour) for end, _ in music}
    assert within(week.daily_minutes, week.minutes_listened, len(days))
    heatmap = [minutes for day in week.heatmap for minutes in day]
    assert within(heatmap, week.minutes_listened, len(cells))


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(specs=plays_strategy, zone=zones)
def test_weekly_numbers_add_up(engine: Engine, specs: list[Spec], zone: str) -> None:
    user, events = load(engine, zone, specs)
    with engine.connect() as conn:
        weeks = [weekly_stats(conn, user, monday, now=LATER) for monday in (WEEK_A, WEEK_B)]
        both = range_stats(conn, user, WEEK_A, WEEK_A + timedelta(days=14), now=LATER)

    for monday, week in zip((WEEK_A, WEEK_B), weeks, strict=True):
        assert_week(week, counted_music(events, zone, monday))
    for stats in (*weeks, both):
        assert stats.streams + stats.skips == stats.plays
    assert_additive(weeks[0], weeks[1], both)


def assert_additive(a: ListeningStats, b: ListeningStats, both: ListeningStats) -> None:
    """Counts add exactly; minutes add up to their rounding."""
    for field in ("plays", "streams", "skips"):
        assert getattr(a, field) + getattr(b, field) == getattr(both, field), field
    assert within([a.minutes_listened, b.minutes_listened], both.minutes_listened, 2)
    assert within([a.podcasts.minutes, b.podcasts.minutes], both.podcasts.minutes, 2)
    for day in range(7):
        assert within([a.daily_minutes[day], b.daily_minutes[day]], both.daily_minutes[day], 2)

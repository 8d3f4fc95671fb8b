"""Weekly stats on both databases, from hand-built weeks whose every number is known."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, insert, update

from tests.factories import episode, play
from weekly_wrapped.errors import UnknownUser
from weekly_wrapped.events import AlbumRef, PlayEvent
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
from weekly_wrapped.insights.stats import InvalidPeriod, range_stats, weekly_stats
from weekly_wrapped.processing.embedded import EmbeddedProcessor
from weekly_wrapped.warehouse import users
from weekly_wrapped.warehouse.schema import coverage_gap, dim_artist, ingest_cursor
from weekly_wrapped.weeks import InvalidWeek

LATER = datetime(2027, 1, 1, tzinfo=UTC)
HARBOUR_ID = "4uLU6hMCjMI75M1A2tKUQC"
KITE_ID = "0OdUWJ0sBjDrqHygGUXeCF"
TIDAL_ART = "https://i.scdn.co/image/tidal"
NOVA_ART = "https://i.scdn.co/image/nova"
KITE_ART = "https://i.scdn.co/image/kite"


def add_user(engine: Engine, timezone: str = "Europe/Berlin") -> int:
    with engine.begin() as conn:
        return users.add_user(conn, name="Ada", timezone=timezone)


def berlin(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    """A wall-clock time in Berlin, as the UTC instant a source would report."""
    wall = datetime(year, month, day, hour, minute, second, tzinfo=ZoneInfo("Europe/Berlin"))
    return wall.astimezone(UTC)


def load(engine: Engine, events: list[PlayEvent]) -> None:
    result = EmbeddedProcessor(engine).process(events)
    assert result.quarantined == 0


def stats(engine: Engine, user: int, week: str, **options: object) -> ListeningStats:
    with engine.connect() as conn:
        return weekly_stats(conn, user, week, now=LATER, **options)  # type: ignore[arg-type]


def with_album_art(event: PlayEvent, image_url: str) -> PlayEvent:
    assert event.track.album is not None
    album = AlbumRef(name=event.track.album.name, image_url=image_url)
    return event.model_copy(update={"track": event.track.model_copy(update={"album": album})})


def enrich(engine: Engine, artist: str, genres: list[str], image_url: str | None) -> None:
    """What enrichment writes once Spotify has told us about an artist."""
    with engine.begin() as conn:
        conn.execute(
            update(dim_artist)
            .where(dim_artist.c.name == artist)
            .values(genres=genres, image_url=image_url)
        )


def hand_built_week(user: int) -> list[PlayEvent]:
    """2026-W47 in Berlin (16–22 Nov, UTC+1) and a little history; see `EXPECTED_W47`."""
    nova: dict[str, Any] = {"artist": "Nova Lane", "album": "Tidal"}
    kite: dict[str, Any] = {"artist": "Kite Choir", "artist_id": KITE_ID, "album": "Kites"}
    old: dict[str, Any] = {"artist": "Old Friend", "title": "Evergreen", "album": None}
    harbour: dict[str, Any] = {**nova, "title": "Harbour Lights", "track_id": HARBOUR_ID}
    return [
        # History: Nova Lane last streamed in September, Old Friend every week or so.
        play(user, berlin(2026, 9, 1, 18, 0), ms_played=200_000, **harbour),
        play(user, berlin(2026, 10, 28, 12, 0), ms_played=600_000, **old),
        play(user, berlin(2026, 11, 10, 12, 0), ms_played=200_000, **old),
        play(user, berlin(2026, 11, 15, 23, 59, 59), ms_played=100_000, **old),
        # An incognito play of Undertow: history only when incognito plays count.
        play(user, berlin(2026, 11, 11, 12, 0), ms_played=240_000, title="Undertow",
             incognito=True, **nova),
        # Monday from 00:00:00 sharp: one session of four plays (a 19-minute pause
        # before the second), one of them a skip.
        with_album_art(play(user, berlin(2026, 11, 16, 0, 0), ms_played=240_000, **harbour),
                       TIDAL_ART),
        play(user, berlin(2026, 11, 16, 0, 23), ms_played=240_000, **harbour),
        play(user, berlin(2026, 11, 16, 0, 27), ms_played=240_000, title="Undertow", **nova),
        play(user, berlin(2026, 11, 16, 0, 27, 20), ms_played=20_000, title="Paper Sun", **kite),
        # Tuesday: podcasts only, counted apart.
        episode(user, berlin(2026, 11, 17, 8, 0), title="Ep. 1", ms_played=1_500_000),
        episode(user, berlin(2026, 11, 17, 8, 30), title="Ep. 2", ms_played=20_000),
        # Wednesday evening: two new songs by a new artist, 20 minutes apart: one session.
        play(user, berlin(2026, 11, 18, 21, 0), ms_played=180_000, title="Paper Sun", **kite),
        play(user, berlin(2026, 11, 18, 21, 23), ms_played=180_000, title="Glass Bell", **kite),
        # Saturday: the same song from an account export, names only, to the minute.
        play(user, berlin(2026, 11, 21, 14, 0), ms_played=120_000, artist="Nova Lane",
             title="Harbour Lights", album=None, duration_ms=None, source="export_account",
             precision="min"),
        # Sunday: an incognito play (not counted) and a last play a second before midnight.
        play(user, berlin(2026, 11, 22, 3, 0), ms_played=300_000, title="Secret", incognito=True,
             **kite),
        play(user, berlin(2026, 11, 22, 23, 59, 59), ms_played=60_000, **old),
        # Monday 00:00:00 of the next week belongs to the next week.
        play(user, berlin(2026, 11, 23, 0, 0), ms_played=240_000, title="Undertow", **nova),
    ]  # fmt: skip


def grid(*cells: tuple[int, int, float]) -> list[list[float]]:
    heatmap = [[0.0] * 24 for _ in range(7)]
    for day, hour, minutes in cells:
        heatmap[day][hour] = minutes
    return heatmap


def expected_w47(user: int) -> ListeningStats:
    harbour = Entry(
        name="Harbour Lights",
        artist="Nova Lane",
        streams=3,
        minutes=10.0,
        image_url=TIDAL_ART,
        spotify_url=f"https://open.spotify.com/track/{HARBOUR_ID}",
    )
    undertow = Entry(
        name="Undertow", artist="Nova Lane", streams=1, minutes=4.0, image_url=TIDAL_ART
    )
    paper_sun = Entry(name="Paper Sun", artist="Kite Choir", streams=1, minutes=3.3)
    glass_bell = Entry(name="Glass Bell", artist="Kite Choir", streams=1, minutes=3.0)
    evergreen = Entry(name="Evergreen", artist="Old Friend", streams=1, minutes=1.0)
    nova = Entry(name="Nova Lane", streams=4, minutes=14.0, image_url=NOVA_ART)
    kite = Entry(
        name="Kite Choir",
        streams=2,
        minutes=6.3,
        image_url=KITE_ART,
        spotify_url=f"https://open.spotify.com/artist/{KITE_ID}",
    )
    return ListeningStats(
        user_id=user, timezone="Europe/Berlin", period_start=date(2026, 11, 16),
        period_end=date(2026, 11, 23), week="2026-W47",
        plays=8, minutes_listened=21.3, minutes_estimated_share=0.0, streams=7, skips=1,
        distinct_tracks=5, distinct_artists=3, distinct_albums=2,
        top_tracks=[harbour, undertow, paper_sun, glass_bell, evergreen],
        top_artists=[nova, kite, Entry(name="Old Friend", streams=1, minutes=1.0)],
        top_albums=[
            Entry(name="Tidal", artist="Nova Lane", streams=3, minutes=12.0, image_url=TIDAL_ART),
            Entry(name="Kites", artist="Kite Choir", streams=2, minutes=6.3),
        ],
        top_genres=[
            Entry(name="indie pop", streams=6, minutes=20.3),
            Entry(name="dream pop", streams=2, minutes=6.3),
        ],
        daily_minutes=[12.3, 0.0, 6.0, 0.0, 0.0, 2.0, 1.0],
        heatmap=grid((0, 0, 12.3), (2, 21, 6.0), (5, 14, 2.0), (6, 23, 1.0)),
        peak_hour=0, busiest_day=0,
        sessions=Sessions(count=4, longest_minutes=12.3),
        new_artists=[kite], new_artists_total=1,
        new_tracks=[undertow, paper_sun, glass_bell], new_tracks_total=3,
        rediscoveries=[nova], rediscoveries_total=1,
        on_repeat=OnRepeat(name="Harbour Lights", artist="Nova Lane", plays=2,
                           day=date(2026, 11, 16)),
        streak_days=2,
        vs_last_week=WeekDelta(minutes=16.3, streams=5, distinct_artists=2),
        trend_4w=[10.0, 0.0, 5.0, 21.3],
        top_artist_share=0.656, artist_diversity=0.710,
        late_night_share=0.578, weekend_share=0.141,
        podcasts=Podcasts(minutes=25.3, episodes=1, top_shows=[
            Entry(name="The Long Listen", streams=1, minutes=25.3)
        ]),
        coverage=Coverage(complete=True, gaps=[]),
    )  # fmt: skip


def test_a_hand_built_week_gives_every_stat_as_constructed(engine: Engine) -> None:
    user = add_user(engine)
    load(engine, hand_built_week(user))
    enrich(engine, "Nova Lane", ["indie pop"], NOVA_ART)
    enrich(engine, "Kite Choir", ["indie pop", "dream pop"], KITE_ART)

    assert stats(engine, user, "2026-W47") == expected_w47(user)


def test_incognito_plays_count_only_when_asked(engine: Engine) -> None:
    user = add_user(engine)
    load(engine, hand_built_week(user))

    shown = stats(engine, user, "2026-W47", include_incognito=True)

    assert (shown.plays, shown.minutes_listened, shown.streams) == (9, 26.3, 8)
    assert shown.late_night_share == 0.658  # Sunday 03:00 joins Monday's 00:0x plays
    assert shown.daily_minutes[6] == 6.0
    assert [e.name for e in shown.new_tracks] == ["Secret", "Paper Sun", "Glass Bell"]


def test_thirty_seconds_is_a_stream_and_a_moment_less_is_a_skip(engine: Engine) -> None:
    user = add_user(engine)
    first = berlin(2026, 11, 17, 9, 0)
    load(
        engine,
        [
            play(user, first, ms_played=30_000, title="Just Enough"),
            play(user, first + timedelta(minutes=1), ms_played=29_999, title="Not Quite"),
        ],
    )

    week = stats(engine, user, "2026-W47")

    assert (week.plays, week.streams, week.skips, week.distinct_tracks) == (2, 1, 1, 1)
    assert [e.name for e in week.top_tracks] == ["Just Enough"]
    assert [e.name for e in week.new_tracks] == ["Just Enough"]


def test_the_week_is_known_by_its_monday_or_its_iso_name(engine: Engine) -> None:
    user = add_user(engine)
    load(engine, hand_built_week(user))
    with engine.connect() as conn:
        by_monday = weekly_stats(conn, user, date(2026, 11, 16), now=LATER)
    assert by_monday == stats(engine, user, "2026-W47")


def test_a_week_without_plays_gives_zeros_not_errors(engine: Engine) -> None:
    user = add_user(engine)
    load(engine, [play(user, berlin(2026, 11, 10, 12, 0), ms_played=600_000)])

    quiet = stats(engine, user, "2026-W47")

    assert (quiet.plays, quiet.minutes_listened, quiet.streams, quiet.skips) == (0, 0.0, 0, 0)
    assert quiet.daily_minutes == [0.0] * 7
    assert quiet.heatmap == grid()
    assert (quiet.peak_hour, quiet.busiest_day, quiet.on_repeat) == (None, None, None)
    assert quiet.sessions == Sessions(count=0, longest_minutes=0.0)
    assert quiet.top_tracks == quiet.top_artists == quiet.top_albums == quiet.top_genres == []
    assert quiet.new_artists == quiet.new_tracks == quiet.rediscoveries == []
    assert (quiet.top_artist_share, quiet.artist_diversity) == (0.0, 0.0)
    assert (quiet.late_night_share, quiet.weekend_share, quiet.minutes_estimated_share) == (
        0.0,
        0.0,
        0.0,
    )
    assert quiet.streak_days == 0
    assert quiet.trend_4w == [0.0, 0.0, 10.0, 0.0]
    assert quiet.vs_last_week == WeekDelta(minutes=-10.0, streams=-1, distinct_artists=-1)
    assert quiet.podcasts == Podcasts(minutes=0.0, episodes=0, top_shows=[])
    assert quiet.coverage.complete


def test_a_user_without_any_history_gets_an_empty_week(engine: Engine) -> None:
    user = add_user(engine, "Asia/Tokyo")
    empty = stats(engine, user, "2026-W01")
    assert (empty.plays, empty.week, empty.period_start) == (0, "2026-W01", date(2025, 12, 29))
    assert empty.trend_4w == [0.0] * 4


def test_a_week_across_the_spring_change_to_summer_time(engine: Engine) -> None:
    user = add_user(engine)
    load(
        engine,
        [
            play(user, berlin(2026, 3, 23, 0, 0), ms_played=60_000),  # Monday 00:00 CET
            play(user, berlin(2026, 3, 29, 1, 30), ms_played=120_000),  # 00:30 UTC
            play(user, berlin(2026, 3, 29, 3, 30), ms_played=180_000),  # 01:30 UTC, CEST
            play(user, berlin(2026, 3, 29, 23, 59, 59), ms_played=240_000),
            play(user, berlin(2026, 3, 30, 0, 0), ms_played=600_000),  # Sunday 22:00 UTC
        ],
    )

    week = stats(engine, user, "2026-W13")

    assert (week.plays, week.minutes_listened) == (4, 10.0)
    assert week.heatmap == grid((0, 0, 1.0), (6, 1, 2.0), (6, 3, 3.0), (6, 23, 4.0))
    assert week.daily_minutes == [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 9.0]
    assert stats(engine, user, "2026-W14").minutes_listened == 10.0


def test_the_repeated_hour_of_the_autumn_change_lands_in_one_hour(engine: Engine) -> None:
    user = add_user(engine)
    first_0230 = datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 02:30 CEST
    second_0230 = datetime(2026, 10, 25, 1, 30, tzinfo=UTC)  # 02:30 CET, an hour later
    load(
        engine,
        [
            play(user, first_0230, ms_played=120_000, title="Once"),
            play(user, second_0230, ms_played=180_000, title="Twice"),
        ],
    )

    week = stats(engine, user, "2026-W43")

    assert week.heatmap == grid((6, 2, 5.0))
    assert week.sessions.count == 2, "an hour apart on the clock"


@pytest.mark.parametrize(
    ("timezone", "w47_cells", "w48_minutes"),
    [
        # UTC+13: 11:30 UTC on Sunday is already Monday 00:30.
        ("Pacific/Tongatapu", ((0, 0, 1.0), (6, 23, 2.0)), 4.0),
        # UTC−10: the same instants are half a day behind.
        ("Pacific/Honolulu", ((6, 0, 2.0), (6, 23, 4.0)), 0.0),
    ],
)
def test_far_timezones_put_the_same_instants_in_their_own_weeks(
    engine: Engine,
    timezone: str,
    w47_cells: tuple[tuple[int, int, float], ...],
    w48_minutes: float,
) -> None:
    user = add_user(engine, timezone)
    load(
        engine,
        [
            play(user, datetime(2026, 11, 15, 11, 30, tzinfo=UTC), ms_played=60_000),
            play(user, datetime(2026, 11, 22, 10, 59, tzinfo=UTC), ms_played=120_000),
            play(user, datetime(2026, 11, 23, 9, 59, tzinfo=UTC), ms_played=240_000),
        ],
    )

    assert stats(engine, user, "2026-W47").heatmap == grid(*w47_cells)
    assert stats(engine, user, "2026-W48").minutes_listened == w48_minutes


def test_minute_precision_export_plays_count_each_row(engine: Engine) -> None:
    user = add_user(engine)
    ended = datetime(2026, 11, 18, 19, 15, tzinfo=UTC)  # 20:15 Berlin, to the minute
    export: dict[str, Any] = {
        "source": "export_account",
        "precision": "min",
        "album": None,
        "duration_ms": None,
    }
    load(
        engine,
        [
            play(user, ended, ms_played=5_000, **export),
            play(user, ended, ms_played=13_000, **export),
            play(user, ended, ms_played=200_000, **export),
            play(user, ended, ms_played=200_000, n=1, **export),  # a second, identical row
            play(user, datetime(2026, 11, 22, 23, 0, tzinfo=UTC), ms_played=90_000, **export),
        ],
    )

    week = stats(engine, user, "2026-W47")

    assert (week.plays, week.streams, week.skips) == (4, 2, 2)
    assert week.minutes_listened == 7.0
    assert week.on_repeat == OnRepeat(
        name="Harbour Lights", artist="Nova Lane", plays=2, day=date(2026, 11, 18)
    )
    assert week.heatmap == grid((2, 20, 7.0))
    assert stats(engine, user, "2026-W48").plays == 1, "23:00 UTC Sunday is Monday 00:00 here"


def test_sessions_split_on_silences_of_more_than_twenty_minutes(engine: Engine) -> None:
    user = add_user(engine)
    first = berlin(2026, 11, 19, 18, 0)
    load(
        engine,
        [
            play(user, first, ms_played=60_000, title="One"),
            # Starts exactly 20 minutes after "One" ended: the same session.
            play(user, first + timedelta(minutes=21), ms_played=60_000, title="Two"),
            # Starts 20 minutes and 1 second after "Two" ended: a new one.
            play(user, first + timedelta(minutes=42, seconds=1), ms_played=60_000, title="Three"),
            play(user, first + timedelta(minutes=43, seconds=1), ms_played=120_000, title="Four"),
        ],
    )

    assert stats(engine, user, "2026-W47").sessions == Sessions(count=2, longest_minutes=3.0)


def test_estimated_minutes_are_reported_as_a_share(engine: Engine) -> None:
    user = add_user(engine)
    first = berlin(2026, 11, 17, 9, 0)
    load(
        engine,
        [
            play(user, first, ms_played=None, source="api", duration_ms=200_000),
            play(user, first + timedelta(minutes=2), ms_played=None, source="api", title="B"),
            play(user, first + timedelta(hours=2), ms_played=180_000, title="C"),
        ],
    )

    week = stats(engine, user, "2026-W47")

    assert week.minutes_listened == 8.3  # 200 s + 120 s estimated + 180 s measured
    assert week.minutes_estimated_share == 0.64


def test_a_streak_reaching_far_back_is_counted_whole(engine: Engine) -> None:
    user = add_user(engine)
    last_day = date(2026, 11, 18)
    days = [last_day - timedelta(days=n) for n in range(40)]
    load(
        engine,
        [play(user, berlin(d.year, d.month, d.day, 12, 0), ms_played=60_000) for d in days]
        + [
            play(user, berlin(2026, 9, 1, 12, 0), ms_played=60_000),  # a day before the gap
            play(user, berlin(2026, 11, 20, 12, 0), ms_played=10_000),  # a skip: no streak
            play(user, berlin(2026, 11, 21, 12, 0), ms_played=60_000),
        ],
    )

    assert stats(engine, user, "2026-W47").streak_days == 40
    assert stats(engine, user, "2026-W48").streak_days == 0


def test_an_artist_is_rediscovered_after_eight_weeks_to_the_second(engine: Engine) -> None:
    user = add_user(engine)
    back = berlin(2026, 11, 18, 12, 0)
    load(
        engine,
        [
            play(user, back - timedelta(weeks=8), artist="Gone Long", ms_played=60_000),
            play(user, back, artist="Gone Long", ms_played=60_000),
            play(user, back - timedelta(weeks=8) + timedelta(seconds=1), artist="Not Quite"),
            play(user, back, artist="Not Quite"),
            play(user, back - timedelta(weeks=12), artist="Skipped Since", ms_played=60_000),
            play(user, back - timedelta(weeks=4), artist="Skipped Since", ms_played=5_000),
            play(user, back, artist="Skipped Since", ms_played=60_000),
        ],
    )

    week = stats(engine, user, "2026-W47")

    assert [e.name for e in week.rediscoveries] == ["Gone Long", "Skipped Since"]
    assert week.new_artists == [] and week.new_tracks == []


def test_coverage_names_every_gap_in_the_week(engine: Engine) -> None:
    user = add_user(engine)
    with engine.begin() as conn:
        conn.execute(
            insert(coverage_gap).values(
                user_key=user,
                start_utc=datetime(2026, 11, 15, 20, 0, tzinfo=UTC),
                end_utc=datetime(2026, 11, 16, 3, 0, tzinfo=UTC),
                reason="more than 50 plays between two polls",
                detected_at=datetime(2026, 11, 16, 3, 0, tzinfo=UTC),
            )
        )
        conn.execute(
            insert(ingest_cursor).values(
                user_key=user,
                source="api",
                last_played_at=datetime(2026, 11, 20, 9, 0, tzinfo=UTC),
                updated_at=datetime(2026, 11, 21, 9, 0, tzinfo=UTC),
            )
        )
    now = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    with engine.connect() as conn:
        week = weekly_stats(conn, user, "2026-W47", now=now)
        last_week = weekly_stats(conn, user, "2026-W45", now=now)

    monday, next_monday = berlin(2026, 11, 16), berlin(2026, 11, 23)
    assert week.coverage == Coverage(
        complete=False,
        gaps=[
            Gap(start=monday, end=datetime(2026, 11, 16, 3, 0, tzinfo=UTC),
                reason="more than 50 plays between two polls"),
            Gap(start=datetime(2026, 11, 21, 9, 0, tzinfo=UTC), end=now,
                reason="Spotify has not been polled since 2026-11-21 09:00 UTC"),
            Gap(start=now, end=next_monday, reason="the period is not over yet"),
        ],
    )  # fmt: skip
    assert last_week.coverage == Coverage(complete=True)


def test_any_range_uses_the_weekly_definitions(engine: Engine) -> None:
    user = add_user(engine)
    load(engine, hand_built_week(user))
    enrich(engine, "Kite Choir", ["indie pop", "dream pop"], KITE_ART)
    with engine.connect() as conn:
        november = range_stats(conn, user, date(2026, 11, 1), date(2026, 12, 1), now=LATER)
        all_time = range_stats(conn, user, date(2020, 1, 1), date(2027, 1, 1), now=LATER)

    assert (november.week, november.trend_4w, november.vs_last_week) == (None, None, None)
    assert (november.plays, november.minutes_listened) == (
        11,
        30.3,
    )  # W46, W47 and the first play of W48
    assert [e.name for e in november.top_artists] == ["Nova Lane", "Kite Choir", "Old Friend"]
    assert november.daily_minutes == [16.3, 3.3, 6.0, 0.0, 0.0, 2.0, 2.7]
    assert [e.name for e in november.rediscoveries] == ["Nova Lane"]
    assert all_time.new_artists_total == 3 and all_time.new_tracks_total == 5
    assert all_time.rediscoveries_total == 1, "September to November, inside the range"
    assert all_time.minutes_listened == 43.7


def test_unknown_users_and_malformed_weeks_are_clear_errors(engine: Engine) -> None:
    user = add_user(engine)
    with engine.connect() as conn:
        with pytest.raises(UnknownUser, match="no user with id 999"):
            weekly_stats(conn, 999, "2026-W47")
        with pytest.raises(InvalidWeek, match="not an ISO week"):
            weekly_stats(conn, user, "2026-47")
        with pytest.raises(InvalidWeek, match="2026 has no week 54"):
            weekly_stats(conn, user, "2026-W54")
        with pytest.raises(InvalidWeek, match="2026-11-18 is a Wednesday"):
            weekly_stats(conn, user, date(2026, 11, 18))
        with pytest.raises(InvalidPeriod, match="holds no days"):
            range_stats(conn, user, date(2026, 11, 18), date(2026, 11, 18))
        with pytest.raises(UnknownUser):
            range_stats(conn, 999, date(2026, 11, 1), date(2026, 12, 1))

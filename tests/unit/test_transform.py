from datetime import UTC, datetime, timedelta

from tests.factories import episode, play
from weekly_wrapped.processing.transform import Context, transform

T0 = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)  # 01:30 in Berlin, 30 minutes before DST starts


def ctx(**kwargs: object) -> Context:
    base: dict[str, object] = {"timezones": {1: "Europe/Berlin", 2: "Pacific/Kiritimati"}}
    base.update(kwargs)
    return Context(now=datetime(2026, 11, 24, tzinfo=UTC), **base)  # type: ignore[arg-type]


def test_local_date_and_hour_follow_the_users_timezone_across_dst() -> None:
    rows = transform([play(1, T0), play(1, T0 + timedelta(hours=1))], ctx())
    assert [(p.local_date_key, p.local_hour) for p in rows.plays] == [
        (20260329, 1),
        (20260329, 3),  # 02:00 does not exist that night
    ]


def test_a_utc_plus_14_user_is_already_in_tomorrow() -> None:
    rows = transform([play(2, datetime(2026, 11, 22, 11, 0, tzinfo=UTC))], ctx())
    assert (rows.plays[0].local_date_key, rows.plays[0].local_hour) == (20261123, 1)
    assert rows.dates[20261123].week_start.isoformat() == "2026-11-23"
    assert rows.dates[20261123].iso_week == 48


def test_api_plays_get_an_estimated_ms_played() -> None:
    at = datetime(2026, 11, 17, 8, 0, tzinfo=UTC)
    api = [
        play(1, at, source="api", ms_played=None, duration_ms=200_000, title="a"),
        play(1, at + timedelta(seconds=45), source="api", ms_played=None, title="b"),
        play(1, at + timedelta(minutes=20), source="api", ms_played=None, title="c"),
        play(1, at + timedelta(minutes=25), source="api", ms_played=None, duration_ms=None),
    ]
    previous = {1: at - timedelta(seconds=90)}
    rows = transform(reversed(api), ctx(previous_end=previous))
    by_title = {p.play_id: p for p in rows.plays}
    got = [(by_title[e.event_id].ms_played, by_title[e.event_id].ms_played_estimated) for e in api]
    assert got == [(90_000, True), (45_000, True), (210_000, True), (180_000, True)]


def test_an_estimate_is_the_exact_gap_in_milliseconds() -> None:
    # Spotify's played_at has milliseconds; 1.001 s is not a whole number of ms as a float.
    at = datetime(2026, 11, 17, 8, 0, tzinfo=UTC)
    gaps = [1_001, 212_345, 30_000, 29_999]
    ends = [at + timedelta(milliseconds=sum(gaps[: n + 1])) for n in range(len(gaps))]
    api = [play(1, end, source="api", ms_played=None, duration_ms=400_000) for end in ends]
    rows = transform(api, ctx(previous_end={1: at}))
    by_id = {p.play_id: p.ms_played for p in rows.plays}
    assert [by_id[e.event_id] for e in api] == gaps


def test_measured_plays_keep_their_ms_played() -> None:
    rows = transform([play(1, T0, ms_played=12_345)], ctx())
    assert (rows.plays[0].ms_played, rows.plays[0].ms_played_estimated) == (12_345, False)


def test_processing_rules_send_events_to_quarantine_with_a_reason() -> None:
    future = datetime(2027, 1, 1, tzinfo=UTC)
    events = [play(9, T0), play(1, future), play(3, T0), play(1, T0)]
    rows = transform(events, ctx(timezones={1: "Europe/Berlin", 3: "Mars/Olympus"}))
    assert [r.reason for r in rows.rejected] == [
        "unknown user_id 9",
        "played_at 2027-01-01T00:00:00+00:00 is in the future",
        "unknown timezone 'Mars/Olympus' for user 3",
    ]
    assert len(rows.plays) == 1


def test_episodes_are_filed_under_their_show() -> None:
    rows = transform([episode(1, T0, show="The Long Listen")], ctx())
    assert rows.plays[0].kind == "episode"
    assert [a.name for a in rows.artists.values()] == ["The Long Listen"]


def test_dimensions_are_unique_within_a_batch() -> None:
    rows = transform([play(1, T0 + timedelta(minutes=i)) for i in range(5)], ctx())
    assert (len(rows.tracks), len(rows.artists), len(rows.albums), len(rows.plays)) == (1, 1, 1, 5)


def test_plays_before_2006_or_past_the_allowed_skew_go_to_quarantine_with_their_reason() -> None:
    now = datetime(2026, 11, 24, tzinfo=UTC)
    dates = [
        datetime(1, 1, 1, tzinfo=UTC),
        datetime(2005, 12, 31, 23, 59, 59, tzinfo=UTC),
        datetime(2006, 1, 1, tzinfo=UTC),
        now + timedelta(minutes=5),
        now + timedelta(minutes=5, seconds=1),
        datetime(9999, 12, 31, 23, 59, tzinfo=UTC),
    ]
    # Kiritimati (UTC+14) and Pago Pago (UTC-11) take year 1 and year 9999 past the calendar.
    zones = {1: "Pacific/Kiritimati", 2: "Pacific/Pago_Pago"}
    for user in zones:
        rows = transform([play(user, at) for at in dates], ctx(timezones=zones))
        assert [p.played_at_utc for p in rows.plays] == [dates[2], dates[3]]
        assert [r.reason for r in rows.rejected] == [
            "played_at 0001-01-01T00:00:00+00:00 is before 2006, when Spotify began",
            "played_at 2005-12-31T23:59:59+00:00 is before 2006, when Spotify began",
            "played_at 2026-11-24T00:05:01+00:00 is in the future",
            "played_at 9999-12-31T23:59:00+00:00 is in the future",
        ]

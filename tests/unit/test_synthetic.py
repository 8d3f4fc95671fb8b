import hashlib
import os
import re
import statistics
import subprocess
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from weekly_wrapped.events import PlayEvent, parse_event
from weekly_wrapped.sources.synthetic import Catalog, build_catalog, generate_plays

END = datetime(2026, 11, 16, 6, 30, tzinfo=UTC)
COHORT = range(1, 31)
WEEKS = 8


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return build_catalog(seed=0)


@pytest.fixture(scope="module")
def cohort(catalog: Catalog) -> dict[int, list[PlayEvent]]:
    """Thirty users, eight weeks each: enough to see every kind of persona."""
    return {
        user: list(generate_plays(user, weeks=WEEKS, seed=0, end=END, catalog=catalog))
        for user in COHORT
    }


def fingerprint(events: Iterable[PlayEvent]) -> str:
    return hashlib.sha256(b"\n".join(e.to_json() for e in events)).hexdigest()


def music(events: Sequence[PlayEvent]) -> list[PlayEvent]:
    return [e for e in events if e.kind == "track"]


def ms(event: PlayEvent) -> int:
    assert event.ms_played is not None
    return event.ms_played


def late_night_share(events: Sequence[PlayEvent], zone: ZoneInfo) -> float:
    late = sum(ms(e) for e in events if e.played_at.astimezone(zone).hour < 5)
    return late / sum(ms(e) for e in events)


def hour_shares(events: Sequence[PlayEvent], zone: ZoneInfo) -> list[float]:
    hours = Counter(e.played_at.astimezone(zone).hour for e in events)
    return [hours[h] / len(events) for h in range(24)]


def distance(a: Sequence[float], b: Sequence[float]) -> float:
    """Total variation distance between two distributions."""
    return sum(abs(x - y) for x, y in zip(a, b, strict=True)) / 2


def top_artists(events: Sequence[PlayEvent], n: int = 5) -> set[str]:
    counts = Counter(e.track.artists[0].name for e in music(events))
    return {name for name, _ in counts.most_common(n)}


def test_the_same_arguments_give_the_same_plays(catalog: Catalog) -> None:
    def run(seed: int) -> list[bytes]:
        plays = generate_plays(7, weeks=2, seed=seed, end=END, catalog=catalog)
        return [e.to_json() for e in plays]

    assert run(0) == run(0)
    assert run(0) != run(1)


def test_plays_are_the_same_in_a_fresh_process() -> None:
    """Another process (with another string-hash seed) rebuilds the same catalog and plays."""
    here = fingerprint(generate_plays(3, weeks=1, seed=5, end=END))
    script = (
        "import hashlib\n"
        "from datetime import datetime\n"
        "from weekly_wrapped.sources.synthetic import generate_plays\n"
        f"plays = generate_plays(3, weeks=1, seed=5, end=datetime.fromisoformat({str(END)!r}))\n"
        "print(hashlib.sha256(b'\\n'.join(e.to_json() for e in plays)).hexdigest())\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    there = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, env=env
    )
    assert there.stdout.strip() == here


def test_the_default_catalog_is_the_shared_one_for_the_seed(catalog: Catalog) -> None:
    shared = list(generate_plays(3, weeks=1, seed=0, end=END, catalog=catalog))
    assert list(generate_plays(3, weeks=1, seed=0, end=END)) == shared


def test_plays_fall_inside_the_weeks_before_end(cohort: dict[int, list[PlayEvent]]) -> None:
    start = END - timedelta(weeks=WEEKS)
    for events in cohort.values():
        assert events, "every persona listens in eight weeks"
        assert all(start < e.played_at <= END for e in events)
        assert (events[-1].played_at - events[0].played_at).days >= 7 * WEEKS - 3


def test_without_end_no_play_is_in_the_future() -> None:
    before = datetime.now(UTC)
    events = list(generate_plays(2, weeks=1, seed=0))
    assert events
    assert events[-1].played_at <= datetime.now(UTC)
    assert events[0].played_at > before - timedelta(weeks=1, seconds=1)


def test_plays_are_in_time_order_and_never_overlap(cohort: dict[int, list[PlayEvent]]) -> None:
    for events in cohort.values():
        for before, after in zip(events, events[1:], strict=False):
            assert after.played_at - before.played_at >= timedelta(milliseconds=ms(after))


def test_skips_are_a_realistic_share_and_look_like_skips(
    cohort: dict[int, list[PlayEvent]],
) -> None:
    shares = []
    for events in cohort.values():
        tracks = music(events)
        skips = [e for e in tracks if ms(e) < 30_000]
        shares.append(len(skips) / len(tracks))
        assert all(e.extras.skipped and e.extras.reason_end == "fwdbtn" for e in skips)
        for e in tracks:
            if e.extras.reason_end == "trackdone":
                assert e.track.duration_ms is not None
                assert e.track.duration_ms - 2_000 <= ms(e) <= e.track.duration_ms
    assert all(0.05 <= share <= 0.35 for share in shares)
    assert 0.10 <= statistics.mean(shares) <= 0.25


def test_daily_volume_depends_on_the_persona(cohort: dict[int, list[PlayEvent]]) -> None:
    per_day = [len(events) / (7 * WEEKS) for events in cohort.values()]
    assert all(10 <= volume <= 50 for volume in per_day)
    assert 15 <= statistics.mean(per_day) <= 40
    assert max(per_day) - min(per_day) > 8


def test_some_days_are_silent(cohort: dict[int, list[PlayEvent]]) -> None:
    silent = 0
    for events in cohort.values():
        days = {e.played_at.date() for e in events}
        silent += 7 * WEEKS - len(days)
    assert silent > len(COHORT)


def test_favourite_artists_drift_over_the_months(catalog: Catalog) -> None:
    overlaps = []
    for user in range(1, 5):
        events = list(generate_plays(user, weeks=20, seed=0, end=END, catalog=catalog))
        first = [e for e in events if e.played_at < END - timedelta(weeks=18)]
        last = [e for e in events if e.played_at >= END - timedelta(weeks=2)]
        overlaps.append(len(top_artists(first) & top_artists(last)))
    assert max(overlaps) < 5
    assert statistics.mean(overlaps) <= 3


def test_new_artists_turn_up_most_weeks(cohort: dict[int, list[PlayEvent]]) -> None:
    for events in list(cohort.values())[:10]:
        seen: set[str] = set()
        weeks_with_new = 0
        for week in range(WEEKS):
            lo, hi = END - timedelta(weeks=WEEKS - week), END - timedelta(weeks=WEEKS - week - 1)
            names = {e.track.artists[0].name for e in music(events) if lo < e.played_at <= hi}
            weeks_with_new += week > 0 and bool(names - seen)
            seen |= names
        assert weeks_with_new >= WEEKS - 3


def test_some_days_have_a_song_on_repeat(cohort: dict[int, list[PlayEvent]]) -> None:
    on_repeat = 0
    for events in cohort.values():
        per_day = Counter((e.played_at.date(), e.track.id) for e in music(events))
        on_repeat += max(per_day.values()) >= 4
    assert on_repeat >= len(COHORT) // 3


def test_night_owls_exist_but_most_people_sleep(cohort: dict[int, list[PlayEvent]]) -> None:
    shares = [late_night_share(events, ZoneInfo("UTC")) for events in cohort.values()]
    assert any(share > 0.10 for share in shares)
    assert sum(share < 0.05 for share in shares) >= len(COHORT) // 2


@pytest.mark.parametrize(
    "zones", [("Pacific/Auckland", "Pacific/Honolulu"), ("Asia/Tokyo", "America/New_York")]
)
def test_the_daily_rhythm_follows_the_users_timezone(
    catalog: Catalog, zones: tuple[str, str]
) -> None:
    local, utc = {}, {}
    for name in zones:
        zone = ZoneInfo(name)
        events = list(generate_plays(4, weeks=8, seed=0, end=END, catalog=catalog, timezone=name))
        local[name] = hour_shares(events, zone)
        utc[name] = hour_shares(events, ZoneInfo("UTC"))
    a, b = zones
    peak = max(range(24), key=local[a].__getitem__)
    assert abs(local[a][peak] - local[b][peak]) < 0.03
    assert distance(local[a], local[b]) < 0.08
    assert distance(utc[a], utc[b]) > 0.15


def test_the_country_follows_the_timezone(catalog: Catalog) -> None:
    events = list(
        generate_plays(5, weeks=1, seed=0, end=END, catalog=catalog, timezone="Pacific/Auckland")
    )
    assert {e.extras.conn_country for e in events} == {"NZ"}


def test_some_people_listen_to_podcasts(cohort: dict[int, list[PlayEvent]]) -> None:
    listeners = 0
    for events in cohort.values():
        episodes = [e for e in events if e.kind == "episode"]
        listeners += bool(episodes)
        for e in episodes:
            assert e.track.show is not None and not e.track.artists
            assert e.track.uri is not None and e.track.uri.startswith("spotify:episode:")
            assert e.performer == e.track.show.name
        assert all(ms(e) >= 60_000 for e in episodes)
        assert len(episodes) <= 4 * WEEKS
    assert 0 < listeners < len(COHORT)


def test_every_play_round_trips_through_the_contract(cohort: dict[int, list[PlayEvent]]) -> None:
    checked = [e for events in list(cohort.values())[:6] for e in events]
    assert {e.kind for e in checked} == {"track", "episode"}
    for event in checked:
        assert parse_event(event.to_json()) == event


def test_event_ids_are_unique(cohort: dict[int, list[PlayEvent]], catalog: Catalog) -> None:
    ids = [e.event_id for events in cohort.values() for e in events]
    ids += [e.event_id for e in generate_plays(1, weeks=WEEKS, seed=0, end=END, source="api")]
    assert len(ids) == len(set(ids))


def test_api_plays_carry_what_recently_played_gives(
    cohort: dict[int, list[PlayEvent]], catalog: Catalog
) -> None:
    podcaster = next(u for u, events in cohort.items() if any(e.kind == "episode" for e in events))
    api = list(generate_plays(podcaster, weeks=WEEKS, seed=0, end=END, source="api"))
    assert all(e.source == "api" and e.ms_played is None for e in api)
    assert all(e.extras == type(e.extras)() for e in api)
    assert all(e.kind == "track" for e in api)
    manual = music(cohort[podcaster])
    assert [(e.played_at, e.track.id) for e in api] == [(e.played_at, e.track.id) for e in manual]
    assert parse_event(api[0].to_json()) == api[0]


def test_plays_carry_the_details_of_a_real_listen(cohort: dict[int, list[PlayEvent]]) -> None:
    events = [e for events in cohort.values() for e in music(events)]
    assert all(e.source == "manual" and e.time_precision == "s" for e in events)
    assert all(e.track.uri == f"spotify:track:{e.track.id}" for e in events)
    assert {e.context.type for e in events if e.context} >= {"playlist", "album", "collection"}
    assert any(e.context is None for e in events)
    assert any(len(e.track.artists) == 2 for e in events)
    assert {e.extras.shuffle for e in events} == {True, False}
    assert {e.extras.offline for e in events} == {True, False}
    assert len({e.extras.platform for e in events}) >= 3


def test_the_catalog_looks_like_spotify(catalog: Catalog) -> None:
    spotify_id = re.compile(r"^[0-9A-Za-z]{22}$")
    names = [artist.ref.name for artist in catalog.artists]
    assert len(names) == 400 and len(set(names)) == 400
    assert any(not name.isascii() and name.isalpha() for name in names)
    assert any(re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", name) for name in names)
    assert all(spotify_id.match(artist.ref.id or "") for artist in catalog.artists)
    for album in catalog.albums:
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", album.release_date or "")
        assert re.fullmatch(r"https://i\.scdn\.co/image/[0-9a-f]{40}", album.image_url or "")
    for track in catalog.tracks:
        assert spotify_id.match(track.id or "")
        assert 90_000 <= (track.duration_ms or 0) <= 420_000
        assert re.fullmatch(r"[A-Z]{2}[A-Z0-9]{3}\d{7}", track.isrc or "")
    assert any(track.explicit for track in catalog.tracks)
    assert all(catalog.genres_of(artist.ref.id or "") for artist in catalog.artists)
    assert 4 <= len(catalog.shows) and all(show.episodes for show in catalog.shows)


def test_a_naive_end_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        next(generate_plays(1, weeks=1, seed=0, end=datetime(2026, 1, 1)))


@settings(max_examples=10, deadline=None)
@given(
    user=st.integers(min_value=1, max_value=10**6),
    seed=st.integers(min_value=0, max_value=10**6),
    zone=st.sampled_from(["UTC", "Europe/London", "America/Sao_Paulo", "Asia/Kolkata"]),
    end=st.datetimes(min_value=datetime(2015, 1, 1), max_value=datetime(2030, 1, 1)),
)
def test_any_user_gets_ordered_valid_plays(user: int, seed: int, zone: str, end: datetime) -> None:
    end = end.replace(tzinfo=UTC)
    plays = generate_plays(
        user, weeks=1, seed=seed, end=end, catalog=build_catalog(0), timezone=zone
    )
    events = list(plays)
    assert all(end - timedelta(weeks=1) < e.played_at <= end for e in events)
    assert all(a.played_at < b.played_at for a, b in zip(events, events[1:], strict=False))
    assert all(parse_event(e.to_json()) == e for e in events[:50])

"""The poller when Spotify misbehaves: rate limits, 5xx, slow or broken answers, lapsed grants."""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, select

from tests.fakes.spotify import FakeSpotify, ManualClock
from tests.fakes.spotify.harness import log_in, spotify_settings
from weekly_wrapped.bus import Ack, Bus
from weekly_wrapped.bus.factory import open_bus
from weekly_wrapped.config import Settings
from weekly_wrapped.delivery.reconnect import with_reconnects
from weekly_wrapped.events import PlayEvent
from weekly_wrapped.sources.spotify.client import SpotifyClient
from weekly_wrapped.sources.spotify.poller import Poller, PollOutcome
from weekly_wrapped.sources.spotify.tokens import cipher, load_tokens
from weekly_wrapped.warehouse.queries import as_utc
from weekly_wrapped.warehouse.schema import dim_user, fact_play, poll_backoff
from weekly_wrapped.warehouse.users import get_user

NOW = datetime(2026, 11, 18, 20, 0, tzinfo=UTC)
RECENT = "/v1/me/player/recently-played"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


@pytest.fixture
def settings(fake: FakeSpotify, engine: Engine, tmp_path: Path) -> Settings:
    """Timeouts generous enough that a loaded machine never times out an answer by itself."""
    return spotify_settings(fake, engine, tmp_path, spotify_request_timeout=10.0)


@pytest.fixture
def users(
    engine: Engine, settings: Settings, fake: FakeSpotify, clock: ManualClock
) -> dict[str, int]:
    """Three connected listeners, each with 5 plays waiting."""
    keys = {}
    tracks = fake.catalog.track_list()
    for n, name in enumerate(("ada", "grace", "linus")):
        keys[name] = log_in(engine, settings, fake, name, clock=clock).user_key
        for minute in range(5):
            fake.listen(name, tracks[n * 10 + minute].id, NOW - timedelta(minutes=4 * minute + 1))
    with engine.begin() as conn:
        conn.execute(dim_user.update().values(email=dim_user.c.display_name + "@example.org"))
    return keys


def poller(engine: Engine, settings: Settings, clock: ManualClock, slept: list[float]) -> Poller:
    client = SpotifyClient(settings, sleep=slept.append, clock=clock)
    return Poller(engine, settings, client=client, clock=clock)


def by_user(outcomes: list[PollOutcome], users: dict[str, int]) -> dict[str, PollOutcome]:
    names = {key: name for name, key in users.items()}
    return {names[o.user_key]: o for o in outcomes}


def plays_of(engine: Engine, user_key: int) -> int:
    with engine.connect() as conn:
        found = conn.execute(select(fact_play.c.play_id).where(fact_play.c.user_key == user_key))
        return len(found.all())


def test_a_429_of_hours_returns_at_once_says_when_and_the_others_are_still_polled(
    engine: Engine, settings: Settings, fake: FakeSpotify, clock: ManualClock, users: dict[str, int]
) -> None:
    fake.inject(RECENT, status=429, retry_after=7200, user="ada")
    slept: list[float] = []
    rounds = poller(engine, settings, clock, slept)

    started = time.monotonic()
    outcome = by_user(rounds.poll().outcomes, users)
    assert time.monotonic() - started < 3 and slept == []
    ada = outcome["ada"]
    assert ada.status == "rate_limited" and ada.retry_at == NOW + timedelta(hours=2)
    assert "2 h 0 min" in ada.message and "until 2026-11-18 22:00 UTC" in ada.message
    assert [outcome[n].plays for n in ("grace", "linus")] == [5, 5]

    asked = fake.requests_to(RECENT, user="ada")
    later = by_user(rounds.poll().outcomes, users)
    assert later["ada"].status == "waiting" and "22:00 UTC" in later["ada"].message
    assert fake.requests_to(RECENT, user="ada") == asked, "Spotify's wait is honoured"

    clock.advance(hours=2, minutes=1)
    after = by_user(rounds.poll().outcomes, users)
    assert (after["ada"].status, after["ada"].plays) == ("ok", 5)


def test_a_short_429_is_waited_out(
    engine: Engine, settings: Settings, fake: FakeSpotify, clock: ManualClock, users: dict[str, int]
) -> None:
    fake.inject(RECENT, status=429, retry_after=30, user="grace")
    slept: list[float] = []
    outcome = by_user(poller(engine, settings, clock, slept).poll().outcomes, users)
    assert slept == [30] and outcome["grace"].plays == 5


def test_server_errors_are_retried_with_backoff(
    engine: Engine, settings: Settings, fake: FakeSpotify, clock: ManualClock, users: dict[str, int]
) -> None:
    fake.inject(RECENT, status=503, times=2, user="ada")
    slept: list[float] = []
    outcome = by_user(poller(engine, settings, clock, slept).poll().outcomes, users)
    assert slept == [0.5, 1.0] and outcome["ada"].plays == 5


def test_a_spotify_that_stays_down_fails_that_user_only_and_keeps_the_cursor(
    engine: Engine, settings: Settings, fake: FakeSpotify, clock: ManualClock, users: dict[str, int]
) -> None:
    fake.inject(RECENT, status=502, times=None, user="ada")
    outcome = by_user(poller(engine, settings, clock, []).poll().outcomes, users)
    assert outcome["ada"].status == "failed" and "failed 4 times" in outcome["ada"].message
    assert plays_of(engine, users["ada"]) == 0
    assert outcome["grace"].plays == outcome["linus"].plays == 5


@pytest.mark.parametrize(
    "fault", [{"delay": 3.0}, {"malformed": True}], ids=["slow answer", "malformed JSON"]
)
def test_slow_and_broken_answers_are_retried(
    engine: Engine,
    settings: Settings,
    fake: FakeSpotify,
    clock: ManualClock,
    users: dict[str, int],
    fault: dict[str, object],
) -> None:
    fake.inject(RECENT, user="linus", **fault)
    impatient = settings.model_copy(update={"spotify_request_timeout": 1.0})
    slept: list[float] = []
    outcome = by_user(poller(engine, impatient, clock, slept).poll().outcomes, users)
    assert slept == [0.5] and outcome["linus"].plays == 5


def test_an_expired_access_token_is_refreshed_and_the_new_one_kept(
    engine: Engine, settings: Settings, fake: FakeSpotify, clock: ManualClock, users: dict[str, int]
) -> None:
    with engine.connect() as conn:
        before = load_tokens(conn, cipher(settings), users.values())
    clock.advance(hours=3)
    outcome = by_user(poller(engine, settings, clock, []).poll().outcomes, users)
    assert all(o.status == "ok" and o.plays == 5 for o in outcome.values())
    with engine.connect() as conn:
        after = load_tokens(conn, cipher(settings), users.values())
    for user in users.values():
        old, new = before[user], after[user]
        assert old.access_token != new.access_token  # type: ignore[union-attr]
        assert old.refresh_token != new.refresh_token, "the rotated refresh token is kept"  # type: ignore[union-attr]
        assert new.expires_at == NOW + timedelta(hours=4)  # type: ignore[union-attr]

    clock.advance(minutes=10)
    fake.expire_access_tokens()  # Spotify ends a token early: a 401, then a refresh
    slept: list[float] = []
    again = by_user(poller(engine, settings, clock, slept).poll().outcomes, users)
    assert all(o.status == "ok" for o in again.values())
    assert answers(fake, RECENT, 401) == len(users) and slept == [], "a 401 is not retried as is"


def test_invalid_grant_marks_the_user_and_sends_one_reconnect_email(
    engine: Engine,
    settings: Settings,
    fake: FakeSpotify,
    clock: ManualClock,
    users: dict[str, int],
    tmp_path: Path,
) -> None:
    fake.revoke("ada")
    clock.advance(hours=2)
    rounds = poller(engine, settings, clock, [])
    ada = users["ada"]
    noticed = by_user(rounds.poll().outcomes, users)["ada"]
    assert noticed.status == "reauth_needed" and "reconnect email due" in noticed.message
    assert not (tmp_path / "outbox" / str(ada)).exists(), "the poller only records the lapse"

    first = by_user(with_reconnects(engine, settings, rounds.poll()).outcomes, users)["ada"]
    assert first.status == "reauth_needed" and "reconnect email sent" in first.message
    for _ in range(3):
        again = by_user(with_reconnects(engine, settings, rounds.poll()).outcomes, users)["ada"]
        assert again.status == "reauth_needed" and "email" not in again.message
        clock.advance(hours=1)

    with engine.connect() as conn:
        assert get_user(conn, ada).auth_status == "reauth_needed"
    emails = sorted((tmp_path / "outbox" / str(ada)).glob("*.eml"))
    assert [e.name for e in emails] == ["2026-W47-reconnect.eml"]
    text = emails[0].read_text()
    assert "Please reconnect Spotify" in text and f"wrapped login --user {ada}" in text
    assert fake.requests_to("/api/token", user="ada") == 0, "a dead grant is not retried"
    assert answers(fake, "/api/token", 400) == 1, "invalid_grant is asked once, in the first round"
    assert fake.requests_to(RECENT, user="ada") == 0

    log_in(engine, settings, fake, "ada", user_key=ada, clock=clock)
    back = by_user(rounds.poll().outcomes, users)["ada"]
    assert (back.status, back.plays) == ("ok", 5)


def test_a_lapsed_user_without_an_email_is_still_marked(
    engine: Engine, settings: Settings, fake: FakeSpotify, clock: ManualClock, users: dict[str, int]
) -> None:
    with engine.begin() as conn:
        conn.execute(
            dim_user.update().where(dim_user.c.user_key == users["linus"]).values(email=None)
        )
    fake.revoke("linus")
    clock.advance(hours=2)
    report = with_reconnects(engine, settings, poller(engine, settings, clock, []).poll())
    outcome = by_user(report.outcomes, users)["linus"]
    assert outcome.status == "reauth_needed" and "no email address on file" in outcome.message


def answers(fake: FakeSpotify, path: str, status: int) -> int:
    """How many of the fake's answers to `path` had this status."""
    return sum(1 for seen in fake.seen if seen.path == path and seen.status == status)


def backoff_of(engine: Engine, user_key: int) -> tuple[datetime, str] | None:
    with engine.connect() as conn:
        row = conn.execute(
            select(poll_backoff.c.not_before, poll_backoff.c.reason).where(
                poll_backoff.c.user_key == user_key
            )
        ).one_or_none()
    return None if row is None else (as_utc(row.not_before), row.reason)


def test_a_surprise_for_one_user_is_kept_against_them_and_the_others_are_polled(
    engine: Engine, settings: Settings, fake: FakeSpotify, clock: ManualClock, users: dict[str, int]
) -> None:
    with engine.begin() as conn:
        # A timezone since dropped from the tz database: working out her lapse week fails.
        conn.execute(
            dim_user.update()
            .where(dim_user.c.user_key == users["ada"])
            .values(timezone="US/Pacific-New")
        )
    fake.revoke("ada")
    rounds = poller(engine, settings, clock, [])

    outcome = by_user(rounds.poll().outcomes, users)
    ada = outcome["ada"]
    assert ada.status == "failed" and "unexpected ZoneInfoNotFoundError" in ada.message
    assert [outcome[n].plays for n in ("grace", "linus")] == [5, 5]
    assert [plays_of(engine, users[n]) for n in ("grace", "linus")] == [5, 5]
    kept = backoff_of(engine, users["ada"])
    assert kept is not None and kept[0] == NOW and "US/Pacific-New" in kept[1]

    with engine.begin() as conn:
        conn.execute(
            dim_user.update().where(dim_user.c.user_key == users["ada"]).values(timezone="UTC")
        )
    log_in(engine, settings, fake, "ada", user_key=users["ada"], clock=clock)
    again = by_user(rounds.poll().outcomes, users)["ada"]
    assert (again.status, again.plays) == ("ok", 5), "she is not made to wait"
    assert backoff_of(engine, users["ada"]) is None, "a good poll clears the failure"


class PickyBus:
    """The real bus, except that it chokes on one user's plays."""

    def __init__(self, inner: Bus, user_key: int) -> None:
        self.inner, self.user_key = inner, user_key

    def publish(self, events: Iterable[PlayEvent]) -> Ack:
        batch = list(events)
        if any(event.user_id == self.user_key for event in batch):
            raise RuntimeError(f"cannot take the plays of user {self.user_key}")
        return self.inner.publish(batch)

    def in_transaction(self, conn: Connection) -> Bus:
        return PickyBus(self.inner.in_transaction(conn), self.user_key)


def test_plays_one_user_cannot_store_hold_up_nobody_else(
    engine: Engine, settings: Settings, fake: FakeSpotify, clock: ManualClock, users: dict[str, int]
) -> None:
    bus = PickyBus(open_bus(engine, settings), users["grace"])
    client = SpotifyClient(settings, clock=clock)
    outcome = by_user(
        Poller(engine, settings, client=client, bus=bus, clock=clock).poll().outcomes, users
    )

    grace = outcome["grace"]
    assert grace.status == "failed" and "cannot take the plays of user" in grace.message
    assert [plays_of(engine, users[n]) for n in ("ada", "grace", "linus")] == [5, 0, 5]
    assert [outcome[n].status for n in ("ada", "linus")] == ["ok", "ok"]
    again = by_user(poller(engine, settings, clock, []).poll().outcomes, users)
    assert (again["grace"].plays, plays_of(engine, users["grace"])) == (5, 5), "fetched again"

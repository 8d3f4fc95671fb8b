"""The Monday schedule with a controlled clock: each user's recap at their own Monday 08:00,
once, across a DST change, a restart, downtime, and two servers sharing one database."""

from __future__ import annotations

import threading
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, update

from weekly_wrapped.config import Settings, load_settings
from weekly_wrapped.scheduler.jobs import Schedule
from weekly_wrapped.warehouse.schema import delivery, dim_user
from weekly_wrapped.warehouse.users import add_user

STEP = timedelta(minutes=15)
ZONES = {
    "berlin": "Europe/Berlin",  # leaves summer time on Sunday 26 Oct 2025
    "new_york": "America/New_York",  # leaves summer time on Sunday 2 Nov 2025
    "tokyo": "Asia/Tokyo",  # no DST; its Monday 08:00 is Sunday 23:00 UTC
}
# Monday 08:00 local, in UTC, for the weeks the run covers.
EXPECTED = {
    "berlin": ["2025-10-27T07:00", "2025-11-03T07:00", "2025-11-10T07:00"],
    "new_york": ["2025-10-27T12:00", "2025-11-03T13:00", "2025-11-10T13:00"],
    "tokyo": ["2025-10-26T23:00", "2025-11-02T23:00", "2025-11-09T23:00"],
}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture
def settings(engine: Engine, tmp_path: Path) -> Settings:
    return load_settings(
        data_dir=tmp_path,
        database_url=engine.url.render_as_string(hide_password=False),
        secret_key="x" * 43 + "=",
        poll_minutes=30,
        send_at="08:00",
    )


@pytest.fixture
def people(engine: Engine) -> dict[int, str]:
    """Three opted-in users, one per timezone, who joined on Saturday 25 October 2025."""
    keys: dict[int, str] = {}
    with engine.begin() as conn:
        for name, zone in ZONES.items():
            key = add_user(conn, name=name, email=f"{name}@example.org", timezone=zone)
            keys[key] = name
        conn.execute(update(dim_user).values(created_at=at("2025-10-25T00:00")))
    return keys


def run(schedule: Schedule, start: datetime, end: datetime) -> dict[str, list[datetime]]:
    """Tick every 15 minutes from `start` to `end`; when each user's recap went out."""
    sent: dict[str, list[datetime]] = defaultdict(list)
    now = start
    while now < end:
        for result in schedule.tick(now).sent:
            assert result.result == "sent", result
            sent[result.name].append(now)
        now += STEP
    return sent


def ledger(engine: Engine) -> list[tuple[int, date, str, int]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(delivery.c.user_key, delivery.c.week_start, delivery.c.status,
                   delivery.c.attempts).order_by(delivery.c.user_key, delivery.c.week_start)
        )  # fmt: skip
        return [tuple(r) for r in rows]  # type: ignore[misc]


def test_each_user_gets_each_week_at_their_own_monday_eight_once_across_a_restart(
    engine: Engine, settings: Settings, people: dict[int, str]
) -> None:
    first = Schedule(engine, settings)
    sent = run(first, at("2025-10-26T00:00"), at("2025-11-04T00:00"))
    restarted = Schedule(engine, settings)  # a new process: nothing carried over but the database
    for name, moments in run(restarted, at("2025-11-04T00:00"), at("2025-11-12T00:00")).items():
        sent[name].extend(moments)

    assert {name: [f"{m:%Y-%m-%dT%H:%M}" for m in ms] for name, ms in sent.items()} == EXPECTED
    rows = ledger(engine)
    assert len(rows) == 9 and {(status, tries) for *_, status, tries in rows} == {("sent", 1)}
    outbox = sorted(p.relative_to(settings.outbox_dir) for p in settings.outbox_dir.rglob("*.eml"))  # type: ignore[union-attr]
    assert len(outbox) == 9


def test_downtime_over_a_monday_sends_that_week_once_when_the_server_is_back(
    engine: Engine, settings: Settings, people: dict[int, str]
) -> None:
    run(Schedule(engine, settings), at("2025-10-30T00:00"), at("2025-11-02T20:00"))
    # Down from Sunday 20:00 to Monday 18:00 UTC: every user's Monday 08:00 passed meanwhile.
    back = Schedule(engine, settings)
    caught_up = run(back, at("2025-11-03T18:00"), at("2025-11-05T00:00"))
    assert {name: len(ms) for name, ms in caught_up.items()} == dict.fromkeys(ZONES, 1)
    assert all(ms == [at("2025-11-03T18:00")] for ms in caught_up.values())


def test_weeks_missed_before_the_last_are_never_sent_late(
    engine: Engine, settings: Settings, people: dict[int, str]
) -> None:
    # Down for two Mondays: only the last week goes out, once.
    sent = run(Schedule(engine, settings), at("2025-11-12T12:00"), at("2025-11-13T12:00"))
    assert {name: len(ms) for name, ms in sent.items()} == dict.fromkeys(ZONES, 1)
    assert {week for _, week, *_ in ledger(engine)} == {date(2025, 11, 3)}


def test_two_servers_on_one_database_send_each_recap_once(
    engine: Engine, settings: Settings, people: dict[int, str]
) -> None:
    servers = [Schedule(engine, settings), Schedule(engine, settings)]
    results: list[dict[str, list[datetime]]] = [{}, {}]

    def serve(index: int) -> None:
        results[index] = run(servers[index], at("2025-11-02T22:00"), at("2025-11-03T14:00"))

    threads = [threading.Thread(target=serve, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sent = [name for result in results for name, ms in result.items() for _ in ms]
    assert sorted(sent) == sorted([*ZONES, *ZONES])  # the weeks of 20 and 27 October
    assert [(status, tries) for *_, status, tries in ledger(engine)] == [("sent", 1)] * 6

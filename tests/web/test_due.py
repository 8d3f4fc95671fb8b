"""The scheduler's "what is due now": a pure function of the clock, the users and the ledger."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from weekly_wrapped.scheduler.due import Recipient, due_recaps, latest_slot, poll_due

EIGHT = time(8, 0)
JOINED = datetime(2025, 1, 1, tzinfo=UTC)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_the_slot_is_monday_eight_local_on_either_side_of_a_dst_change() -> None:
    # Berlin leaves summer time on Sunday 26 October 2025: 08:00 is 06:00 UTC, then 07:00.
    assert latest_slot(at("2025-10-20T06:00"), "Europe/Berlin", EIGHT) == at("2025-10-20T06:00")
    assert latest_slot(at("2025-10-27T06:59"), "Europe/Berlin", EIGHT) == at("2025-10-20T06:00")
    assert latest_slot(at("2025-10-27T07:00"), "Europe/Berlin", EIGHT) == at("2025-10-27T07:00")
    # Tokyo's Monday 08:00 is Sunday 23:00 UTC.
    assert latest_slot(at("2025-11-02T23:00"), "Asia/Tokyo", EIGHT) == at("2025-11-02T23:00")


def test_a_recap_is_due_from_the_slot_until_the_ledger_has_it() -> None:
    ada = Recipient(1, "America/New_York", JOINED)
    before = due_recaps(at("2025-11-03T12:59"), [ada], set(), EIGHT)
    due = due_recaps(at("2025-11-03T13:00"), [ada], set(), EIGHT)  # 08:00 EST
    done = due_recaps(at("2025-11-03T13:00"), [ada], {(1, date(2025, 10, 27))}, EIGHT)
    assert [d.week_start for d in before] == [date(2025, 10, 20)]  # last week's, still owed
    assert [(d.week_start, d.slot) for d in due] == [(date(2025, 10, 27), at("2025-11-03T13:00"))]
    assert done == []


def test_after_weeks_of_downtime_only_the_last_week_is_due() -> None:
    ada = Recipient(1, "Europe/Berlin", JOINED)
    due = due_recaps(at("2025-11-20T12:00"), [ada], set(), EIGHT)
    assert [d.week_start for d in due] == [date(2025, 11, 10)]


def test_nothing_is_due_for_a_monday_before_the_user_joined() -> None:
    new = Recipient(1, "UTC", at("2025-11-04T10:00"))
    assert due_recaps(at("2025-11-05T10:00"), [new], set(), EIGHT) == []
    assert [d.week_start for d in due_recaps(at("2025-11-10T08:00"), [new], set(), EIGHT)] == [
        date(2025, 11, 3)
    ]


def test_a_poll_is_due_once_the_interval_has_passed() -> None:
    every = timedelta(minutes=30)
    assert poll_due(at("2025-11-03T10:00"), None, every)
    assert not poll_due(at("2025-11-03T10:29"), at("2025-11-03T10:00"), every)
    assert poll_due(at("2025-11-03T10:30"), at("2025-11-03T10:00"), every)

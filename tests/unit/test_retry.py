"""The one retry policy: what it retries, how long it waits, and where it stops."""

from __future__ import annotations

import time
from typing import Any

import pytest

from weekly_wrapped import retry
from weekly_wrapped.errors import TerminalError, TransientError
from weekly_wrapped.retry import GaveUp, RetryPolicy, retrying


class Attempts:
    """Fails with the given exceptions in turn, then answers."""

    def __init__(self, *failures: Exception) -> None:
        self.failures = list(failures)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return "answer"


def policy(slept: list[float], **overrides: Any) -> RetryPolicy:
    values: dict[str, Any] = {"attempts": 4, "first_backoff_s": 1.0, "sleep": slept.append}
    return RetryPolicy(**(values | overrides))


def test_transient_errors_are_retried_with_doubling_backoff_up_to_its_cap() -> None:
    slept: list[float] = []
    attempts = Attempts(*(TransientError("busy") for _ in range(5)))
    answer = retrying(attempts, policy(slept, attempts=6, max_backoff_s=5), "x")
    assert answer == "answer" and slept == [1, 2, 4, 5, 5]


def test_a_retry_after_replaces_the_backoff() -> None:
    slept: list[float] = []
    attempts = Attempts(TransientError("busy", retry_after=12), TransientError("busy"))
    assert retrying(attempts, policy(slept), "x") == "answer"
    assert slept == [12, 2]


def test_terminal_errors_and_surprises_are_raised_at_once() -> None:
    for error in (TerminalError("no"), KeyError("a bug")):
        slept: list[float] = []
        attempts = Attempts(error)
        with pytest.raises(type(error)):
            retrying(attempts, policy(slept), "x")
        assert attempts.calls == 1 and slept == []


def test_the_last_error_is_raised_when_the_attempts_are_used_up() -> None:
    slept: list[float] = []
    errors = [TransientError(f"busy {n}") for n in range(1, 9)]
    with pytest.raises(TransientError, match="busy 3"):
        retrying(Attempts(*errors), policy(slept, attempts=3), "x")
    assert slept == [1, 2]


def test_a_retry_after_past_the_cap_is_not_slept_on() -> None:
    slept: list[float] = []
    seen: list[GaveUp] = []

    def give_up(stop: GaveUp) -> Exception:
        seen.append(stop)
        return TerminalError(f"come back in {stop.error.retry_after:g} s")

    attempts = Attempts(TransientError("limited", retry_after=7200))
    with pytest.raises(TerminalError, match="come back in 7200 s"):
        retrying(attempts, policy(slept, max_wait_s=60), "x", give_up=give_up)
    assert slept == [] and attempts.calls == 1
    assert [(s.bound, s.tries) for s in seen] == [("max_wait", 1)]


def test_no_wait_runs_past_the_deadline() -> None:
    slept: list[float] = []
    deadline = time.monotonic() + 10
    bounded = policy(slept, attempts=9, deadline=deadline, min_request_s=3)
    attempts = Attempts(*(TransientError("busy") for _ in range(9)))
    seen: list[GaveUp] = []

    def give_up(stop: GaveUp) -> Exception:
        seen.append(stop)
        return stop.error

    with pytest.raises(TransientError):
        retrying(attempts, bounded, "x", give_up=give_up)
    # Waits of 1, 2 and 4 s would leave 3 s; a wait of 8 s would not (waits are not slept).
    assert slept == [1, 2, 4] and seen[0].bound == "deadline" and seen[0].wait_s == 8


def test_on_retry_sees_each_error_before_its_wait() -> None:
    events: list[str] = []
    bounded = policy([], attempts=3, sleep=lambda s: events.append(f"wait {s:g}"))
    errors = [TransientError(f"busy {n}") for n in (1, 2, 3)]
    with pytest.raises(TransientError, match="busy 3"):
        retrying(Attempts(*errors), bounded, "x", on_retry=lambda e: events.append(str(e)))
    assert events == ["busy 1", "wait 1", "busy 2", "wait 2"]


def test_without_a_sleep_every_wait_goes_through_pause(monkeypatch: pytest.MonkeyPatch) -> None:
    paused: list[float] = []
    monkeypatch.setattr(retry, "pause", paused.append)
    bounded = RetryPolicy(attempts=2, first_backoff_s=30)
    assert retrying(Attempts(TransientError("busy")), bounded, "x") == "answer"
    assert paused == [30]

"""One retry policy for every call to an outside service: Spotify, the mail server, the LLMs.

The error tree decides (`weekly_wrapped.errors`): a transient `WrappedError` is tried
again; anything else, a terminal error or a surprise, is raised at once. Before the
next try it waits the error's `retry_after` when the service named one (a 429's
Retry-After), else a backoff doubling from `first_backoff_s` up to `max_backoff_s`.

Three bounds end the tries, each named in the `GaveUp` the caller can turn into its
own error:

- ``attempts``: at most `attempts` tries in all;
- ``max_wait``: a Retry-After longer than `max_wait_s` is never slept on; the error is
  raised at once, so the caller can skip the round and say when to come back;
- ``deadline``: no wait that would leave less than `min_request_s` before `deadline`.

Built on tenacity. Every wait goes through the policy's `sleep`, by default `pause`,
so tests record the waits instead of sleeping.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, NoReturn, TypeVar

import tenacity

from weekly_wrapped.errors import WrappedError

log = logging.getLogger(__name__)

T = TypeVar("T")
Sleep = Callable[[float], None]
Bound = Literal["attempts", "max_wait", "deadline"]


def pause(seconds: float) -> None:
    """Wait `seconds`: where every retry waits unless its policy names another way."""
    time.sleep(seconds)


@dataclass(frozen=True)
class RetryPolicy:
    """How often, and how long between tries, one kind of call is tried again."""

    attempts: int
    """Most tries in all, the first one included."""
    first_backoff_s: float
    """The wait after the first failure that named no Retry-After; it doubles each time."""
    max_backoff_s: float = 60.0
    """The longest backoff wait."""
    max_wait_s: float = math.inf
    """The longest Retry-After waited out; a longer one is raised at once."""
    deadline: float | None = None
    """A `time.monotonic()` instant the tries must fit before, or None."""
    min_request_s: float = 0.0
    """Time a try needs before the deadline to be worth making."""
    sleep: Sleep | None = None
    """How to wait; None: `pause`."""

    def backoff_s(self, failures: int) -> float:
        """The wait after `failures` failures without a Retry-After: doubling, capped."""
        return min(self.max_backoff_s, self.first_backoff_s * 2.0 ** (failures - 1))

    def wait_s(self, error: WrappedError, failures: int) -> float:
        """The wait before the next try: what the service asked for, else the backoff."""
        return error.retry_after if error.retry_after is not None else self.backoff_s(failures)

    def bound(self, error: WrappedError, tries: int, wait_s: float) -> Bound | None:
        """The bound another try after `wait_s` would break, or None if it may go ahead."""
        if error.retry_after is not None and error.retry_after > self.max_wait_s:
            return "max_wait"
        if tries >= self.attempts:
            return "attempts"
        if self.deadline is not None:
            if self.deadline - time.monotonic() - wait_s < self.min_request_s:
                return "deadline"
        return None


@dataclass(frozen=True)
class GaveUp:
    """Why the tries ended: the last error, how many tries were made, which bound was hit."""

    error: WrappedError
    tries: int
    bound: Bound
    wait_s: float
    """The wait the next try would have needed."""


def retrying(
    attempt: Callable[[], T],
    policy: RetryPolicy,
    what: str,
    *,
    on_retry: Callable[[WrappedError], None] | None = None,
    give_up: Callable[[GaveUp], Exception] | None = None,
) -> T:
    """`attempt()`, tried again as `policy` allows while it raises a transient error.

    `on_retry` sees each error that will be retried, before the wait. When a bound
    ends the tries, `give_up` turns the `GaveUp` into the error to raise (default:
    the last error itself). Any other exception is raised as it is, at once.
    """
    controller = tenacity.Retrying(
        sleep=policy.sleep or _pause,
        retry=tenacity.retry_if_exception(worth_retrying),
        wait=lambda state: policy.wait_s(_error(state), state.attempt_number),
        stop=lambda state: _bound(policy, state) is not None,
        before_sleep=lambda state: _before_sleep(state, what, on_retry),
        retry_error_callback=lambda state: _give_up(policy, state, give_up),
    )
    return controller(attempt)


def worth_retrying(error: BaseException) -> bool:
    """Whether the error tree marks `error` transient: the same call may succeed later."""
    return isinstance(error, WrappedError) and error.transient


def _pause(seconds: float) -> None:
    pause(seconds)  # looked up at each call, so a test may replace `pause`


def _error(state: tenacity.RetryCallState) -> WrappedError:
    assert state.outcome is not None  # noqa: S101 - tenacity asks only after a try
    error = state.outcome.exception()
    assert isinstance(error, WrappedError)  # noqa: S101 - only these are retried
    return error


def _bound(policy: RetryPolicy, state: tenacity.RetryCallState) -> Bound | None:
    return policy.bound(_error(state), state.attempt_number, state.upcoming_sleep)


def _before_sleep(
    state: tenacity.RetryCallState, what: str, on_retry: Callable[[WrappedError], None] | None
) -> None:
    error = _error(state)
    log.info("%s: %s; try %d in %.2f s", what, error, state.attempt_number + 1,
             state.upcoming_sleep)  # fmt: skip
    if on_retry is not None:
        on_retry(error)


def _give_up(
    policy: RetryPolicy,
    state: tenacity.RetryCallState,
    give_up: Callable[[GaveUp], Exception] | None,
) -> NoReturn:
    error = _error(state)
    bound = _bound(policy, state) or "attempts"
    stop = GaveUp(error, state.attempt_number, bound, state.upcoming_sleep)
    raise (give_up(stop) if give_up is not None else error) from None

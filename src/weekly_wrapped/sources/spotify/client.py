"""The one door to Spotify: the Web API through spotipy, the accounts service through requests.

spotipy's own retries are off (they obey a Retry-After of hours). Instead every
request follows one bounded policy:

- 429: wait the Retry-After when it is at most WRAPPED_SPOTIFY_MAX_WAIT, else raise
  `RateLimited` at once, saying when Spotify will take requests again;
- 5xx, timeouts, dropped connections and broken JSON: retry with doubling backoff,
  WRAPPED_SPOTIFY_RETRIES times, then raise `SpotifyUnavailable`;
- 401 raises `AccessTokenRejected` (the caller refreshes), 404 `NotFound`, other 4xx
  `SpotifyRefused`.

A pacer keeps the whole app under WRAPPED_SPOTIFY_REQUESTS_PER_SECOND.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import requests
import spotipy  # type: ignore[import-untyped]

from weekly_wrapped.config import Settings
from weekly_wrapped.errors import WrappedError
from weekly_wrapped.sources.spotify.errors import (
    AccessTokenRejected,
    NotFound,
    RateLimited,
    ReauthNeeded,
    SpotifyNotConfigured,
    SpotifyRefused,
    SpotifyUnavailable,
)

log = logging.getLogger(__name__)
# spotipy logs request headers (the bearer token) and whole answers at DEBUG, and every
# HTTP error at ERROR; this client reports each failure itself, without secrets.
logging.getLogger("spotipy").setLevel(logging.CRITICAL)

T = TypeVar("T")
Clock = Callable[[], datetime]
Json = dict[str, Any]
_DEFAULT_RETRY_AFTER_S = 5
_MAX_RATE_LIMIT_WAITS = 3


def utcnow() -> datetime:
    return datetime.now(UTC)


class _Flaky(Exception):
    """A failure worth retrying after a backoff."""


class _RetryAfter(Exception):
    def __init__(self, seconds: float) -> None:
        super().__init__(f"429, Retry-After {seconds:g} s")
        self.seconds = seconds


class Pacer:
    """Spaces requests evenly so this process never sends more than `per_second`, across threads."""

    def __init__(self, per_second: float, sleep: Callable[[float], None] = time.sleep) -> None:
        self._gap = 1.0 / per_second
        self._next = 0.0
        self._sleep = sleep
        self._lock = threading.Lock()

    def wait(self) -> None:
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next)
            self._next = slot + self._gap
        if slot > now:
            self._sleep(slot - now)


@dataclass
class Policy:
    """The bounded retry policy every Spotify request follows."""

    max_wait_s: float
    retries: int
    backoff_s: float
    sleep: Callable[[float], None]
    clock: Clock

    def run(self, attempt: Callable[[], T], what: str) -> T:
        failures, waits = 0, 0
        while True:
            try:
                return attempt()
            except _RetryAfter as exc:
                waits += 1
                if exc.seconds > self.max_wait_s or waits > _MAX_RATE_LIMIT_WAITS:
                    raise self._rate_limited(exc.seconds, what, waits) from None
                log.info("%s: rate limited, waiting %.0f s as Spotify asks", what, exc.seconds)
                self.sleep(exc.seconds)
            except _Flaky as exc:
                failures += 1
                if failures > self.retries:
                    raise SpotifyUnavailable(
                        f"{what} failed {failures} times, the last with: {exc}"
                    ) from None
                delay = self.backoff_s * 2 ** (failures - 1)
                log.info("%s failed (%s); retry %d in %.2f s", what, exc, failures, delay)
                self.sleep(delay)

    def _rate_limited(self, seconds: float, what: str, waits: int) -> RateLimited:
        retry_at = self.clock() + timedelta(seconds=seconds)
        why = (
            f"longer than WRAPPED_SPOTIFY_MAX_WAIT ({self.max_wait_s:g} s)"
            if seconds > self.max_wait_s
            else f"the {waits}th time in a row"
        )
        return RateLimited(
            f"{what}: Spotify asks to wait {describe_wait(seconds)} "
            f"(until {retry_at:%Y-%m-%d %H:%M} UTC), {why}",
            retry_at=retry_at,
        )


def describe_wait(seconds: float) -> str:
    """7200 → "2 h 0 min"; 90 → "1 min 30 s"."""
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min {secs} s" if minutes else f"{secs} s"


class SpotifyClient:
    """Spotify's Web API and accounts service for many users at once (thread-safe)."""

    def __init__(
        self,
        settings: Settings,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Clock = utcnow,
        backoff_s: float = 0.5,
    ) -> None:
        self.settings = settings
        self.policy = Policy(
            settings.spotify_max_wait, settings.spotify_retries, backoff_s, sleep, clock
        )
        self.pacer = Pacer(settings.spotify_requests_per_second, sleep)
        self.requests_sent = 0
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._lock = threading.Lock()

    # --- the Web API ---------------------------------------------------------------

    def me(self, access_token: str) -> Json:
        return self._api(access_token, lambda sp: sp.me(), "reading the profile")

    def recently_played(self, access_token: str, after_ms: int | None, limit: int = 50) -> Json:
        return self._api(
            access_token,
            lambda sp: sp.current_user_recently_played(limit=limit, after=after_ms),
            "fetching recently played",
        )

    def search(self, access_token: str, query: str, kind: str, limit: int = 10) -> Json:
        return self._api(
            access_token,
            lambda sp: sp.search(q=query, type=kind, limit=limit),
            f"searching {kind}s",
        )

    def track(self, access_token: str, spotify_id: str) -> Json:
        return self._api(
            access_token, lambda sp: sp.track(spotify_id), f"reading track {spotify_id}"
        )

    def artist(self, access_token: str, spotify_id: str) -> Json:
        return self._api(
            access_token, lambda sp: sp.artist(spotify_id), f"reading artist {spotify_id}"
        )

    def album(self, access_token: str, spotify_id: str) -> Json:
        return self._api(
            access_token, lambda sp: sp.album(spotify_id), f"reading album {spotify_id}"
        )

    def _api(self, access_token: str, call: Callable[[Any], Any], what: str) -> Json:
        def attempt() -> Json:
            self.pacer.wait()
            self._count()
            client = self._spotipy()
            client.set_auth(access_token)
            try:
                return _json_object(call(client))
            except spotipy.SpotifyException as exc:
                raise _classify(exc.http_status, exc.headers or {}, str(exc.msg)) from None
            except requests.RequestException as exc:
                raise _Flaky(type(exc).__name__) from None

        return self.policy.run(attempt, what)

    def _spotipy(self) -> Any:
        client = getattr(self._local, "spotipy", None)
        if client is None:
            # Our own session: spotipy then mounts no retrying adapter, and a 429's
            # exception keeps its headers (Retry-After).
            client = spotipy.Spotify(
                requests_session=self._session(),
                retries=0,
                status_retries=0,
                backoff_factor=0,
                requests_timeout=self.settings.spotify_request_timeout,
            )
            client.prefix = self.settings.spotify_api_url.rstrip("/") + "/"
            self._local.spotipy = client
        return client

    # --- the accounts service --------------------------------------------------------

    def token_request(self, form: Mapping[str, str]) -> Json:
        """POST to the accounts service's token endpoint; `invalid_grant` → `ReauthNeeded`."""
        url = self.settings.spotify_accounts_url.rstrip("/") + "/api/token"
        secret = self.settings.spotify_client_secret
        auth = None
        if secret is not None:
            auth = (form.get("client_id", ""), secret.get_secret_value())

        def attempt() -> Json:
            self._count()
            try:
                response = self._session().post(
                    url, data=dict(form), auth=auth, timeout=self.settings.spotify_request_timeout
                )
            except requests.RequestException as exc:
                raise _Flaky(type(exc).__name__) from None
            return _token_answer(response)

        return self.policy.run(attempt, "asking Spotify for a token")

    # --- plumbing --------------------------------------------------------------------

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            self._local.session = session
            with self._lock:
                self._sessions.append(session)
        return session

    def _count(self) -> None:
        with self._lock:
            self.requests_sent += 1

    def close(self) -> None:
        with self._lock:
            sessions, self._sessions = self._sessions, []
        for session in sessions:
            session.close()


def _json_object(result: Any) -> Json:
    # spotipy answers None when the body is not JSON.
    if not isinstance(result, dict):
        raise _Flaky("the answer was not a JSON object")
    return result


def _classify(status: int, headers: Mapping[str, str], message: str) -> Exception:
    if status == 429:
        return _RetryAfter(retry_after_s(headers.get("Retry-After")))
    if status >= 500 or status < 0:
        return _Flaky(f"HTTP {status}")
    if status == 401:
        return AccessTokenRejected(f"Spotify refused the access token: {_last_line(message)}")
    if status == 404:
        return NotFound(f"Spotify has no such item: {_last_line(message)}")
    return SpotifyRefused(f"Spotify refused the request (HTTP {status}): {_last_line(message)}")


def _last_line(message: str) -> str:
    # spotipy puts the URL on the first line; the reason is on the last.
    return message.strip().splitlines()[-1].strip() if message.strip() else "no reason given"


def _token_answer(response: requests.Response) -> Json:
    if response.status_code == 200:
        try:
            return _json_object(response.json())
        except ValueError:
            raise _Flaky("the token answer was not JSON") from None
    if response.status_code == 429 or response.status_code >= 500:
        raise _classify(response.status_code, response.headers, "")
    raise _token_refusal(response)


def _token_refusal(response: requests.Response) -> WrappedError:
    try:
        body = response.json()
        error, description = str(body.get("error")), str(body.get("error_description") or "")
    except (ValueError, AttributeError):
        error, description = "unknown", response.text[:200]
    if error == "invalid_grant":
        return ReauthNeeded(f"Spotify no longer accepts this grant: {description or error}")
    if error == "invalid_client":
        return SpotifyNotConfigured(f"Spotify refused the client credentials: {description}")
    return SpotifyRefused(f"Spotify refused the token request ({error}): {description}")


def retry_after_s(value: str | None) -> float:
    """Seconds from a Retry-After header: a number of seconds, or an HTTP date."""
    if value is None:
        return _DEFAULT_RETRY_AFTER_S
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, (parsedate_to_datetime(value) - utcnow()).total_seconds())
    except (TypeError, ValueError):
        return _DEFAULT_RETRY_AFTER_S

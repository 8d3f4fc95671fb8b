"""The one door to Spotify: the Web API and the accounts service, over requests.

Every request follows the app's one retry policy (`weekly_wrapped.retry`):

- 429: wait the Retry-After when it is at most WRAPPED_SPOTIFY_MAX_WAIT, else raise
  `RateLimited` at once, saying when Spotify will take requests again;
- 5xx, timeouts, dropped connections and broken JSON: retry with doubling backoff;
- either way at most 1 + WRAPPED_SPOTIFY_RETRIES tries, then `RateLimited` or
  `SpotifyUnavailable`;
- 401 raises `AccessTokenRejected` (the caller refreshes), 404 `NotFound`, other 4xx
  `SpotifyRefused`, and the token endpoint's ``invalid_grant`` `ReauthNeeded`; none of
  them is retried.

A pacer keeps the whole app under WRAPPED_SPOTIFY_REQUESTS_PER_SECOND.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote

import requests

from weekly_wrapped.config import Settings
from weekly_wrapped.errors import WrappedError
from weekly_wrapped.retry import GaveUp, RetryPolicy, Sleep, retrying
from weekly_wrapped.sources.spotify.errors import (
    AccessTokenRejected,
    NotFound,
    RateLimited,
    ReauthNeeded,
    SpotifyNotConfigured,
    SpotifyRefused,
    SpotifyUnavailable,
)

Clock = Callable[[], datetime]
Json = dict[str, Any]
Answer = tuple[requests.Response, Json | None]
"""A response Spotify gave, and its body when that is a JSON object."""
_DEFAULT_RETRY_AFTER_S = 5
_MAX_BACKOFF_S = 30.0


def utcnow() -> datetime:
    return datetime.now(UTC)


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
        sleep: Sleep | None = None,
        clock: Clock = utcnow,
        backoff_s: float = 0.5,
    ) -> None:
        self.settings = settings
        self.policy = RetryPolicy(
            attempts=1 + settings.spotify_retries,
            first_backoff_s=backoff_s,
            max_backoff_s=_MAX_BACKOFF_S,
            max_wait_s=settings.spotify_max_wait,
            sleep=sleep,
        )
        self.clock = clock
        self.pacer = Pacer(settings.spotify_requests_per_second, sleep or time.sleep)
        self.requests_sent = 0
        self._api_url = settings.spotify_api_url.rstrip("/")
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._lock = threading.Lock()

    # --- the Web API ---------------------------------------------------------------

    def me(self, access_token: str) -> Json:
        return self._get(access_token, "/me", {}, "reading the profile")

    def recently_played(self, access_token: str, after_ms: int | None, limit: int = 50) -> Json:
        query = {"limit": limit} if after_ms is None else {"limit": limit, "after": after_ms}
        path = "/me/player/recently-played"
        return self._get(access_token, path, query, "fetching recently played")

    def search(self, access_token: str, query: str, kind: str, limit: int = 10) -> Json:
        wanted = {"q": query, "type": kind, "limit": limit}
        return self._get(access_token, "/search", wanted, f"searching {kind}s")

    def track(self, access_token: str, spotify_id: str) -> Json:
        return self._item(access_token, "track", spotify_id)

    def artist(self, access_token: str, spotify_id: str) -> Json:
        return self._item(access_token, "artist", spotify_id)

    def album(self, access_token: str, spotify_id: str) -> Json:
        return self._item(access_token, "album", spotify_id)

    def _item(self, access_token: str, kind: str, spotify_id: str) -> Json:
        path = f"/{kind}s/{quote(spotify_id, safe='')}"
        return self._get(access_token, path, {}, f"reading {kind} {spotify_id}")

    def _get(self, access_token: str, path: str, query: Mapping[str, Any], what: str) -> Json:
        url = self._api_url + path
        headers = {"Authorization": f"Bearer {access_token}"}

        def attempt() -> Answer:
            self.pacer.wait()
            return self._send("GET", url, params=query, headers=headers)

        response, body = self._retrying(attempt, what)
        if body is not None and response.status_code == 200:
            return body
        raise _api_refusal(response.status_code, _reason(body, response))

    # --- the accounts service --------------------------------------------------------

    def token_request(self, form: Mapping[str, str]) -> Json:
        """POST to the accounts service's token endpoint; `invalid_grant` → `ReauthNeeded`."""
        url = self.settings.spotify_accounts_url.rstrip("/") + "/api/token"
        secret = self.settings.spotify_client_secret
        auth = None
        if secret is not None:
            auth = (form.get("client_id", ""), secret.get_secret_value())

        def attempt() -> Answer:
            return self._send("POST", url, data=dict(form), auth=auth)

        response, body = self._retrying(attempt, "asking Spotify for a token")
        if body is not None and response.status_code == 200:
            return body
        raise _token_refusal(body, response)

    # --- plumbing --------------------------------------------------------------------

    def _send(self, method: str, url: str, **options: Any) -> Answer:
        """One request; what is worth another try is raised as a transient error."""
        self._count()
        timeout = self.settings.spotify_request_timeout
        try:
            response = self._session().request(method, url, timeout=timeout, **options)
        except requests.RequestException as exc:
            raise SpotifyUnavailable(type(exc).__name__) from None
        status = response.status_code
        if status == 429:
            seconds = retry_after_s(response.headers.get("Retry-After"))
            raise RateLimited(
                f"429, Retry-After {seconds:g} s",
                retry_at=self.clock() + timedelta(seconds=seconds),
                retry_after=seconds,
            )
        if status >= 500:
            raise SpotifyUnavailable(f"HTTP {status}")
        body = _json_object(response)
        if status == 200 and body is None:
            raise SpotifyUnavailable("the answer was not a JSON object")
        return response, body

    def _retrying(self, attempt: Callable[[], Answer], what: str) -> Answer:
        return retrying(attempt, self.policy, what, give_up=lambda stop: self._gave_up(stop, what))

    def _gave_up(self, stop: GaveUp, what: str) -> WrappedError:
        if not isinstance(stop.error, RateLimited):
            return SpotifyUnavailable(
                f"{what} failed {stop.tries} times, the last with: {stop.error}"
            )
        seconds = stop.error.retry_after or 0.0
        retry_at = self.clock() + timedelta(seconds=seconds)
        why = (
            f"longer than WRAPPED_SPOTIFY_MAX_WAIT ({self.policy.max_wait_s:g} s)"
            if stop.bound == "max_wait"
            else f"still rate limited after {stop.tries} tries"
        )
        return RateLimited(
            f"{what}: Spotify asks to wait {describe_wait(seconds)} "
            f"(until {retry_at:%Y-%m-%d %H:%M} UTC), {why}",
            retry_at=retry_at,
            retry_after=seconds,
        )

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


def _json_object(response: requests.Response) -> Json | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _reason(body: Json | None, response: requests.Response) -> str:
    """The message of a Web API error answer: ``{"error": {"status", "message"}}``."""
    error = (body or {}).get("error")
    if isinstance(error, dict) and error.get("message"):
        return str(error["message"])[:300]
    return response.text.strip()[:300] or "no reason given"


def _api_refusal(status: int, reason: str) -> WrappedError:
    if status == 401:
        return AccessTokenRejected(f"Spotify refused the access token: {reason}")
    if status == 404:
        return NotFound(f"Spotify has no such item: {reason}")
    return SpotifyRefused(f"Spotify refused the request (HTTP {status}): {reason}")


def _token_refusal(body: Json | None, response: requests.Response) -> WrappedError:
    if body is None:
        error, description = "unknown", response.text[:200]
    else:
        error, description = str(body.get("error")), str(body.get("error_description") or "")
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

"""OAuth pieces, token encryption and the bounded retry policy, without a network."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography.fernet import Fernet

from weekly_wrapped.config import load_settings
from weekly_wrapped.keys import InvalidSecretKey
from weekly_wrapped.sources.spotify import client as spotify_client
from weekly_wrapped.sources.spotify.errors import (
    LoginFailed,
    RateLimited,
    ReauthNeeded,
    SpotifyNotConfigured,
    SpotifyRefused,
    SpotifyUnavailable,
    StateMismatch,
)
from weekly_wrapped.sources.spotify.oauth import (
    code_challenge,
    code_from_callback,
    redirect_target,
    start_authorization,
    token_from_answer,
)
from weekly_wrapped.sources.spotify.tokens import Token, cipher

NOW = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)


def settings(**overrides: Any) -> Any:
    return load_settings(**({"spotify_client_id": "abc123"} | overrides))


def test_the_pkce_challenge_is_rfc_7636_s256() -> None:
    # The example from RFC 7636, appendix B.
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert code_challenge(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_the_authorize_url_asks_for_s256_the_least_scope_and_a_fresh_state() -> None:
    first, second = start_authorization(settings()), start_authorization(settings())
    query = {k: v[0] for k, v in parse_qs(urlsplit(first.url).query).items()}
    assert urlsplit(first.url).path == "/authorize"
    assert query["code_challenge_method"] == "S256"
    assert query["code_challenge"] == code_challenge(first.code_verifier)
    assert query["scope"] == "user-read-recently-played"
    assert query["state"] == first.state and first.state != second.state
    assert query["redirect_uri"] == "http://127.0.0.1:8765/callback"
    assert 43 <= len(first.code_verifier) <= 128


def test_secrets_of_a_login_never_print() -> None:
    request = start_authorization(settings())
    token = Token("BQsecret-access", "AQsecret-refresh", NOW)
    assert request.code_verifier not in repr(request)
    assert "secret" not in repr(token)


def test_a_callback_with_another_state_is_refused() -> None:
    request = start_authorization(settings())
    with pytest.raises(StateMismatch, match="state does not match"):
        code_from_callback(request, {"state": "forged", "code": "abc"})
    with pytest.raises(StateMismatch):
        code_from_callback(request, {"code": "abc"})
    with pytest.raises(LoginFailed, match="access_denied"):
        code_from_callback(request, {"state": request.state, "error": "access_denied"})
    assert code_from_callback(request, {"state": request.state, "code": "abc"}) == "abc"


@pytest.mark.parametrize(
    ("uri", "problem"),
    [
        ("http://localhost:8765/callback", "localhost"),
        ("http://example.org/callback", "must be https"),
    ],
)
def test_redirect_uris_spotify_refuses_are_refused_first(uri: str, problem: str) -> None:
    with pytest.raises(SpotifyNotConfigured, match=problem):
        start_authorization(settings(spotify_redirect_uri=uri))


def test_loopback_and_https_redirects_are_accepted() -> None:
    assert redirect_target("http://127.0.0.1:8765/callback").loopback
    assert redirect_target("http://[::1]:9000/cb").port == 9000
    assert not redirect_target("https://wrapped.example.org/auth/callback").loopback


def test_no_client_id_names_the_setting() -> None:
    with pytest.raises(SpotifyNotConfigured, match="WRAPPED_SPOTIFY_CLIENT_ID"):
        start_authorization(load_settings())


def test_without_a_secret_key_one_is_made_and_kept(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    first = cipher(settings).encrypt(b"token")
    assert cipher(load_settings(data_dir=tmp_path)).decrypt(first) == b"token"
    kept = tmp_path / "secret.key"
    assert kept.stat().st_mode & 0o777 == 0o600


def test_a_bad_secret_key_shows_how_to_make_one() -> None:
    with pytest.raises(InvalidSecretKey, match="not a Fernet key") as bad:
        cipher(load_settings(secret_key="too short and not base64"))  # noqa: S106
    assert "Fernet.generate_key()" in (bad.value.hint or "")
    assert cipher(load_settings(secret_key=Fernet.generate_key().decode()))


def test_a_token_answer_keeps_the_old_refresh_token_unless_spotify_rotates_it() -> None:
    kept = token_from_answer({"access_token": "a", "expires_in": 3600}, NOW, "old")
    rotated = token_from_answer({"access_token": "a", "refresh_token": "new"}, NOW, "old")
    assert (kept.refresh_token, rotated.refresh_token) == ("old", "new")
    assert kept.expires_at == NOW + timedelta(hours=1)
    assert kept.needs_refresh(NOW + timedelta(minutes=59, seconds=30))
    assert not kept.needs_refresh(NOW + timedelta(minutes=30))


class Attempts:
    """Fails with the given exceptions in turn, then answers."""

    def __init__(self, *failures: Exception) -> None:
        self.failures = list(failures)
        self.calls = 0

    def __call__(self) -> Any:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return "answer"


def client(slept: list[float], max_wait: float = 60, retries: int = 3) -> Any:
    chosen = settings(spotify_max_wait=max_wait, spotify_retries=retries)
    return spotify_client.SpotifyClient(chosen, sleep=slept.append, clock=lambda: NOW)


def limited(seconds: float) -> RateLimited:
    """What the client raises inside its tries for a 429 with this Retry-After."""
    return RateLimited("429", retry_at=NOW + timedelta(seconds=seconds), retry_after=seconds)


def test_a_short_retry_after_is_waited_out() -> None:
    slept: list[float] = []
    attempts = Attempts(limited(7))
    assert client(slept)._retrying(attempts, "polling") == "answer"
    assert slept == [7] and attempts.calls == 2


def test_a_long_retry_after_returns_at_once_saying_when() -> None:
    slept: list[float] = []
    started = time.monotonic()
    attempts = Attempts(limited(7200))
    with pytest.raises(RateLimited) as raised:
        client(slept)._retrying(attempts, "polling")
    assert time.monotonic() - started < 0.5 and slept == [] and attempts.calls == 1
    assert raised.value.retry_at == NOW + timedelta(hours=2)
    assert "2 h 0 min" in str(raised.value) and "2026-11-16 11:00 UTC" in str(raised.value)
    assert "longer than WRAPPED_SPOTIFY_MAX_WAIT (60 s)" in str(raised.value)


def test_short_waits_that_keep_coming_are_bounded_too() -> None:
    slept: list[float] = []
    with pytest.raises(RateLimited, match="still rate limited after 4 tries"):
        client(slept)._retrying(Attempts(*(limited(20) for _ in range(9))), "x")
    assert slept == [20, 20, 20]


def test_server_errors_are_retried_with_doubling_backoff_then_reported() -> None:
    slept: list[float] = []
    flaky = [SpotifyUnavailable("HTTP 503") for _ in range(2)]
    assert client(slept)._retrying(Attempts(*flaky), "polling") == "answer"
    assert slept == [0.5, 1.0]
    slept.clear()
    with pytest.raises(SpotifyUnavailable, match="failed 4 times, the last with: HTTP 502"):
        client(slept)._retrying(Attempts(*(SpotifyUnavailable("HTTP 502") for _ in range(9))), "x")
    assert slept == [0.5, 1.0, 2.0]


def test_rate_limits_and_server_errors_share_one_bound_on_tries() -> None:
    slept: list[float] = []
    mixed = [SpotifyUnavailable("HTTP 503"), limited(1), *(SpotifyUnavailable("HTTP 503"),) * 5]
    attempts = Attempts(*mixed)
    with pytest.raises(SpotifyUnavailable, match="failed 4 times, the last with: HTTP 503"):
        client(slept)._retrying(attempts, "x")
    assert slept == [0.5, 1, 2.0] and attempts.calls == 4


@pytest.mark.parametrize(
    "refusal",
    [
        ReauthNeeded("Spotify no longer accepts this grant: invalid_grant"),
        SpotifyRefused("Spotify refused the request (HTTP 403): not in the app's users"),
        ValueError("a bug"),
    ],
    ids=["invalid_grant", "403", "a surprise"],
)
def test_refusals_and_surprises_are_never_retried(refusal: Exception) -> None:
    slept: list[float] = []
    attempts = Attempts(refusal)
    with pytest.raises(type(refusal)):
        client(slept)._retrying(attempts, "x")
    assert attempts.calls == 1 and slept == []


def test_retry_after_may_be_seconds_or_a_date() -> None:
    later = datetime.now(UTC) + timedelta(minutes=10)
    assert spotify_client.retry_after_s("120") == 120
    assert 590 <= spotify_client.retry_after_s(format_datetime(later, usegmt=True)) <= 600
    assert spotify_client.retry_after_s(None) == 5
    assert spotify_client.describe_wait(90) == "1 min 30 s"

"""OAuth with Spotify: authorization code with PKCE (S256) and a `state` check.

Stateless functions, so the CLI login and the web service share them: the caller
keeps the `AuthorizationRequest` (its state and verifier) until the callback comes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from ipaddress import ip_address
from typing import Any
from urllib.parse import urlencode, urlsplit

from weekly_wrapped.config import Settings
from weekly_wrapped.sources.spotify.client import SpotifyClient
from weekly_wrapped.sources.spotify.errors import (
    LoginFailed,
    ReauthNeeded,
    SpotifyNotConfigured,
    StateMismatch,
)
from weekly_wrapped.sources.spotify.tokens import Token

SCOPES = ("user-read-recently-played",)
"""The least the poller needs; /me answers the user id without any scope."""


@dataclass(frozen=True)
class AuthorizationRequest:
    """Where to send the person, and what we must remember until Spotify calls back."""

    url: str
    redirect_uri: str
    state: str = field(repr=False)
    code_verifier: str = field(repr=False)


@dataclass(frozen=True)
class RedirectTarget:
    """Where Spotify sends the browser back to: a loopback host and port, and a path."""

    host: str
    port: int
    path: str
    loopback: bool


def client_id(settings: Settings) -> str:
    if not settings.spotify_client_id:
        raise SpotifyNotConfigured("WRAPPED_SPOTIFY_CLIENT_ID is not set")
    return settings.spotify_client_id


def redirect_target(uri: str) -> RedirectTarget:
    """Check the redirect URI as Spotify does: https, or http on a loopback IP literal."""
    parts = urlsplit(uri)
    host = parts.hostname or ""
    if host == "localhost":
        raise SpotifyNotConfigured(
            f"WRAPPED_SPOTIFY_REDIRECT_URI {uri!r} uses localhost, which Spotify refuses",
            hint="Use the loopback IP instead: http://127.0.0.1:8765/callback (and register it).",
        )
    loopback = _is_loopback(host)
    if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
        raise SpotifyNotConfigured(
            f"WRAPPED_SPOTIFY_REDIRECT_URI {uri!r} must be https, or http on 127.0.0.1"
        )
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return RedirectTarget(host, port, parts.path or "/", loopback)


def _is_loopback(host: str) -> bool:
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


def start_authorization(settings: Settings) -> AuthorizationRequest:
    """A fresh authorize URL with its own state and PKCE verifier."""
    redirect_target(settings.spotify_redirect_uri)
    verifier = secrets.token_urlsafe(64)
    state = secrets.token_urlsafe(24)
    query = {
        "client_id": client_id(settings),
        "response_type": "code",
        "redirect_uri": settings.spotify_redirect_uri,
        "code_challenge_method": "S256",
        "code_challenge": code_challenge(verifier),
        "scope": " ".join(SCOPES),
        "state": state,
    }
    url = f"{settings.spotify_accounts_url.rstrip('/')}/authorize?{urlencode(query)}"
    return AuthorizationRequest(url, settings.spotify_redirect_uri, state, verifier)


def code_challenge(verifier: str) -> str:
    """PKCE S256: base64url(sha256(verifier)) without padding."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def code_from_callback(request: AuthorizationRequest, query: Mapping[str, str]) -> str:
    """The authorization code from Spotify's callback, once its `state` is ours."""
    if not hmac.compare_digest(query.get("state", ""), request.state):
        raise StateMismatch(
            "refused the Spotify callback: its state does not match this login "
            "(an old or forged link?)"
        )
    if "error" in query:
        raise LoginFailed(f"Spotify did not authorize Weekly Wrapped: {query['error']}")
    code = query.get("code")
    if not code:
        raise LoginFailed("Spotify's callback carried no authorization code")
    return code


def exchange_code(
    client: SpotifyClient, request: AuthorizationRequest, code: str, now: datetime
) -> Token:
    """Trade the authorization code (and our PKCE verifier) for tokens."""
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": request.redirect_uri,
        "code_verifier": request.code_verifier,
        "client_id": client_id(client.settings),
    }
    try:
        answer = client.token_request(form)
    except ReauthNeeded as exc:
        raise LoginFailed(f"Spotify refused the authorization code: {exc}") from None
    return token_from_answer(answer, now, previous_refresh=None)


def refresh(client: SpotifyClient, token: Token, now: datetime) -> Token:
    """A new access token; raises `ReauthNeeded` when Spotify answers ``invalid_grant``."""
    if token.refresh_token is None:
        raise ReauthNeeded("the stored Spotify grant has no refresh token")
    form = {
        "grant_type": "refresh_token",
        "refresh_token": token.refresh_token,
        "client_id": client_id(client.settings),
    }
    answer = client.token_request(form)
    return token_from_answer(answer, now, previous_refresh=token.refresh_token)


def token_from_answer(answer: dict[str, Any], now: datetime, previous_refresh: str | None) -> Token:
    """A `Token` from the token endpoint's JSON; Spotify may or may not rotate the refresh token."""
    access = answer.get("access_token")
    if not isinstance(access, str) or not access:
        raise LoginFailed("Spotify's token answer had no access token")
    lifetime = answer.get("expires_in")
    seconds = lifetime if isinstance(lifetime, int) and lifetime > 0 else 3600
    refreshed = answer.get("refresh_token")
    return Token(
        access,
        refreshed if isinstance(refreshed, str) and refreshed else previous_refresh,
        now + timedelta(seconds=seconds),
        str(answer.get("scope") or ""),
    )

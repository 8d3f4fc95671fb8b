"""Helpers for tests and benchmarks that point Weekly Wrapped at the fake Spotify."""

from __future__ import annotations

import socket
import threading
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import requests
from cryptography.fernet import Fernet
from sqlalchemy import Engine

from tests.fakes.spotify.server import FakeSpotify
from weekly_wrapped.config import Settings, load_settings
from weekly_wrapped.sources.spotify.client import Clock, SpotifyClient, utcnow
from weekly_wrapped.sources.spotify.login import Connected, login
from weekly_wrapped.sources.spotify.state import set_auth_status
from weekly_wrapped.sources.spotify.tokens import Token, cipher, save_token
from weekly_wrapped.warehouse.users import add_user

SECRET_KEY = Fernet.generate_key().decode()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def spotify_settings(
    fake: FakeSpotify, engine: Engine, data_dir: Path, **overrides: Any
) -> Settings:
    """Settings aimed at the fake, with a fresh loopback redirect URI it accepts."""
    redirect = f"http://127.0.0.1:{free_port()}/callback"
    fake.redirect_uris.add(redirect)
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "database_url": engine.url.render_as_string(hide_password=False),
        "secret_key": SECRET_KEY,
        "spotify_client_id": fake.client_id,
        "spotify_api_url": fake.api_url,
        "spotify_accounts_url": fake.base_url,
        "spotify_redirect_uri": redirect,
        "spotify_request_timeout": 2.0,
        "spotify_requests_per_second": 10_000,
        "email_backoff_s": 0.01,
    }
    return load_settings(**(values | overrides))


def follow_in_browser(url: str) -> None:
    """What a browser does: open the authorize URL and follow the redirect to our callback."""

    def visit() -> None:
        requests.get(url, allow_redirects=True, timeout=10)

    threading.Thread(target=visit, daemon=True).start()


def log_in(
    engine: Engine,
    settings: Settings,
    fake: FakeSpotify,
    spotify_user: str,
    *,
    user_key: int | None = None,
    clock: Clock = utcnow,
) -> Connected:
    """The real login flow, browser-less: the fake consents as `spotify_user`."""
    if spotify_user not in fake.listeners:
        fake.add_listener(spotify_user)
    fake.consent_as(spotify_user)
    client = SpotifyClient(settings, clock=clock)
    try:
        return login(
            engine,
            settings,
            show_url=follow_in_browser,
            open_browser=False,
            user_key=user_key,
            timeout_s=10,
            client=client,
            clock=clock,
        )
    finally:
        client.close()


def connect_directly(
    engine: Engine, settings: Settings, fake: FakeSpotify, spotify_user: str, now: datetime
) -> int:
    """A connected user without the browser dance (for benchmarks with hundreds of users)."""
    if spotify_user not in fake.listeners:
        fake.add_listener(spotify_user)
    answer = fake._issue(spotify_user, "user-read-recently-played", with_refresh=True)
    token = Token(
        answer["access_token"],
        answer["refresh_token"],
        now + timedelta(seconds=answer["expires_in"]),
        answer["scope"],
    )
    with engine.begin() as conn:
        user_key = add_user(conn, name=spotify_user, spotify_user_id=spotify_user)
        set_auth_status(conn, user_key, "ok")
        save_token(conn, cipher(settings), user_key, token, now)
    return user_key

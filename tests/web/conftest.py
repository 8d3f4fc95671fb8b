"""The web app on a real warehouse, logging in through the fake Spotify as a browser would."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine

from tests.factories import play
from tests.fakes.spotify import FakeSpotify
from tests.fakes.spotify.harness import spotify_settings
from weekly_wrapped.config import Settings
from weekly_wrapped.processing.embedded import EmbeddedProcessor
from weekly_wrapped.web import create_app

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
"""The app's clock: Wednesday of 2026-W48."""
LAST_WEEK = "2026-W47"

_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def fake() -> Iterator[FakeSpotify]:
    with FakeSpotify() as spotify:
        yield spotify


def web_settings(fake: FakeSpotify, engine: Engine, data_dir: Path, **overrides: Any) -> Settings:
    """Settings for the web app against the fake; its callback is the app's own route."""
    settings = spotify_settings(fake, engine, data_dir, **overrides)
    port = urlsplit(settings.spotify_redirect_uri).port
    redirect = f"http://127.0.0.1:{port}/auth/callback"
    fake.redirect_uris.add(redirect)
    return settings.model_copy(update={"spotify_redirect_uri": redirect})


@pytest.fixture
def settings(fake: FakeSpotify, engine: Engine, tmp_path: Path) -> Settings:
    return web_settings(fake, engine, tmp_path, public_url="https://wrapped.example.org")


@pytest.fixture
def app(settings: Settings, engine: Engine) -> Flask:
    app = create_app(settings, engine=engine, clock=lambda: NOW)
    app.testing = True
    return app


def csrf_token(client: FlaskClient, path: str = "/login") -> str:
    """The CSRF token of the form on `path`, as the browser holds it."""
    page = client.get(path).get_data(as_text=True)
    found = _TOKEN.search(page)
    assert found, f"no CSRF token on {path}"
    return found[1]


@dataclass
class LoggedIn:
    client: FlaskClient
    user_key: int


def log_in(app: Flask, fake: FakeSpotify, spotify_user: str, name: str | None = None) -> LoggedIn:
    """Log in through the fake Spotify as `spotify_user`, as a browser follows the redirects."""
    if spotify_user not in fake.listeners:
        fake.add_listener(spotify_user, name or spotify_user.title())
    fake.consent_as(spotify_user)
    client = app.test_client()
    started = client.post("/login", data={"csrf_token": csrf_token(client)})
    assert started.status_code == 302, started.get_data(as_text=True)
    consent = requests.get(started.headers["Location"], allow_redirects=False, timeout=10)
    back = urlsplit(consent.headers["Location"])
    answer = client.get(f"{back.path}?{back.query}")
    assert answer.status_code == 302, answer.get_data(as_text=True)
    with client.session_transaction() as session:
        user_key = session["user_key"]
    return LoggedIn(client, user_key)


def add_plays(
    engine: Engine, user_key: int, artist: str, *, days: int = 10, per_day: int = 3
) -> int:
    """`per_day` plays of `artist` on each of the `days` days before NOW; how many."""
    events = [
        play(user_key, NOW - timedelta(days=day, hours=hour + 1), artist=artist,
             title=f"{artist} song {hour}", album=f"{artist} album")
        for day in range(days)
        for hour in range(per_day)
    ]  # fmt: skip
    result = EmbeddedProcessor(engine).process(events)
    assert result.quarantined == 0
    return len(events)

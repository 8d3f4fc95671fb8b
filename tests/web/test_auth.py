"""Logging in through Spotify on the web: PKCE and state, first-login details, the allow-list,
rate limits, the reconnect banner, and the session cookie's flags."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from flask import Flask
from sqlalchemy import Engine, select

from tests.fakes.spotify import FakeSpotify
from tests.web.conftest import csrf_token, log_in, web_settings
from weekly_wrapped.sources.spotify.state import set_auth_status
from weekly_wrapped.warehouse.schema import dim_user
from weekly_wrapped.warehouse.users import get_user, list_users
from weekly_wrapped.web import create_app

pytestmark = pytest.mark.parametrize("backend", ["sqlite"])


def test_a_first_login_asks_for_email_timezone_and_opt_in_then_shows_the_week(
    app: Flask, fake: FakeSpotify, engine: Engine
) -> None:
    ada = log_in(app, fake, "ada", "Ada Lovelace")
    assert ada.client.get("/").headers["Location"].endswith("/weeks/2026-W48")
    welcome = ada.client.get("/welcome").get_data(as_text=True)
    assert 'data-browser-zone="fill"' in welcome  # the browser's zone is filled in by app.js
    saved = ada.client.post("/welcome", data={
        "csrf_token": csrf_token(ada.client, "/welcome"), "email": "ada@example.org",
        "timezone": "Europe/Berlin", "weekly_email": "on",
    })  # fmt: skip
    assert saved.status_code == 302
    with engine.connect() as conn:
        user = get_user(conn, ada.user_key)
    assert (user.email, user.timezone, user.weekly_email, user.auth_status) == (
        "ada@example.org", "Europe/Berlin", True, "ok",
    )  # fmt: skip
    week = ada.client.get("/weeks/2026-W48")
    assert week.status_code == 200 and "2026-W48" in week.get_data(as_text=True)


def test_the_callback_asks_spotify_with_pkce_and_our_state(app: Flask, fake: FakeSpotify) -> None:
    fake.add_listener("ada")
    fake.consent_as("ada")
    client = app.test_client()
    started = client.post("/login", data={"csrf_token": csrf_token(client)})
    query = parse_qs(urlsplit(started.headers["Location"]).query)
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"][0]
    assert query["state"][0] and query["redirect_uri"][0].endswith("/auth/callback")


def test_a_callback_with_another_state_is_refused(
    app: Flask, fake: FakeSpotify, engine: Engine
) -> None:
    fake.add_listener("mallory")
    fake.consent_as("mallory")
    client = app.test_client()
    started = client.post("/login", data={"csrf_token": csrf_token(client)})
    consent = requests.get(started.headers["Location"], allow_redirects=False, timeout=10)
    back = urlsplit(consent.headers["Location"])
    forged = parse_qs(back.query)
    forged["state"] = ["someone-elses-state"]
    answer = client.get(f"{back.path}?{urlencode(forged, doseq=True)}")
    assert answer.status_code == 400
    assert "state does not match" in answer.get_data(as_text=True)
    with engine.connect() as conn:
        assert list_users(conn) == []
    assert client.get("/api/v1/me").status_code == 401


def test_a_callback_without_a_login_in_progress_is_refused(app: Flask) -> None:
    answer = app.test_client().get("/auth/callback?code=abc&state=xyz")
    assert answer.status_code == 400
    assert "no login is in progress" in answer.get_data(as_text=True)


def test_only_allowed_spotify_accounts_may_log_in(
    fake: FakeSpotify, engine: Engine, tmp_path: Path
) -> None:
    settings = web_settings(fake, engine, tmp_path, web_allowed_spotify_ids="ada, grace")
    app = create_app(settings, engine=engine)
    assert log_in(app, fake, "ada").user_key
    fake.add_listener("eve")
    fake.consent_as("eve")
    client = app.test_client()
    started = client.post("/login", data={"csrf_token": csrf_token(client)})
    back = urlsplit(requests.get(started.headers["Location"], allow_redirects=False,
                                 timeout=10).headers["Location"])  # fmt: skip
    assert client.get(f"{back.path}?{back.query}").status_code == 403
    with engine.connect() as conn:
        ids = conn.execute(select(dim_user.c.spotify_user_id)).scalars().all()
    assert ids == ["ada"]


def test_login_attempts_are_rate_limited(fake: FakeSpotify, engine: Engine, tmp_path: Path) -> None:
    settings = web_settings(fake, engine, tmp_path, web_login_rate="3 per minute")
    client = create_app(settings, engine=engine).test_client()
    token = csrf_token(client)
    codes = [client.post("/login", data={"csrf_token": token}).status_code for _ in range(4)]
    assert codes == [302, 302, 302, 429]


def test_a_lapsed_connection_shows_a_reconnect_banner(
    app: Flask, fake: FakeSpotify, engine: Engine
) -> None:
    ada = log_in(app, fake, "ada")
    assert "Reconnect Spotify" not in ada.client.get("/settings").get_data(as_text=True)
    with engine.begin() as conn:
        set_auth_status(conn, ada.user_key, "reauth_needed")
    assert "Reconnect Spotify" in ada.client.get("/settings").get_data(as_text=True)


def test_the_session_cookie_is_httponly_lax_and_secure_behind_https(
    app: Flask, fake: FakeSpotify
) -> None:
    fake.add_listener("ada")
    fake.consent_as("ada")
    client = app.test_client()
    started = client.post("/login", data={"csrf_token": csrf_token(client)})
    cookie = started.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie


def test_logging_out_ends_the_session(app: Flask, fake: FakeSpotify) -> None:
    ada = log_in(app, fake, "ada")
    assert ada.client.post("/logout", data={"csrf_token": csrf_token(ada.client, "/settings")}
                           ).status_code == 302  # fmt: skip
    assert ada.client.get("/api/v1/me").status_code == 401

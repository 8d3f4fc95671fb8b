"""`wrapped login --no-browser`, `wrapped poll` and `wrapped enrich` as a person runs them."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from sqlalchemy import Engine, update

from tests.cli import WRAPPED, run_wrapped
from tests.fakes.spotify import FakeSpotify
from tests.fakes.spotify.harness import connect_directly, spotify_settings
from weekly_wrapped.config import Settings
from weekly_wrapped.warehouse.schema import dim_user, oauth_token


@pytest.fixture
def fake() -> Iterator[FakeSpotify]:
    with FakeSpotify() as spotify:
        spotify.add_listener("ada.l", "Ada Lovelace")
        now = datetime.now(UTC)
        for n, track in enumerate(spotify.catalog.track_list()[:12]):
            spotify.listen("ada.l", track.id, now - timedelta(minutes=4 * (12 - n)))
        yield spotify


@pytest.fixture
def settings(fake: FakeSpotify, engine: Engine, tmp_path: Path) -> Settings:
    return spotify_settings(fake, engine, tmp_path)


def environment(settings: Settings, **changes: str) -> dict[str, str]:
    values = {
        "WRAPPED_DATA_DIR": str(settings.data_dir),
        "WRAPPED_DATABASE_URL": settings.db_url,
        "WRAPPED_SECRET_KEY": settings.secret_key.get_secret_value() if settings.secret_key else "",
        "WRAPPED_SPOTIFY_CLIENT_ID": settings.spotify_client_id or "",
        "WRAPPED_SPOTIFY_API_URL": settings.spotify_api_url,
        "WRAPPED_SPOTIFY_ACCOUNTS_URL": settings.spotify_accounts_url,
        "WRAPPED_SPOTIFY_REDIRECT_URI": settings.spotify_redirect_uri,
    }
    return {**os.environ, "COLUMNS": "160", **values, **changes}


def wrapped(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return run_wrapped(*args, env=env, timeout=60)


def test_a_headless_login_then_poll_then_enrich(settings: Settings, fake: FakeSpotify) -> None:
    env = environment(settings)
    login = subprocess.Popen(
        [*WRAPPED, "login", "--no-browser", "--timeout", "30"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert login.stdout is not None
    url = login.stdout.readline().strip()
    assert url.startswith(fake.base_url + "/authorize?")
    requests.get(url, timeout=10)  # the person opens the link; Spotify redirects to the loopback
    out, errors = login.communicate(timeout=30)
    assert login.returncode == 0, errors
    assert "Connected Spotify account ada.l to user 1 (Ada Lovelace) (new user)" in out
    assert "ssh -L" in errors

    polled = wrapped("poll", env=env)
    assert polled.returncode == 0, polled.stderr
    assert "Polled 1 of 1 users: 12 plays fetched, 12 new in the warehouse." in polled.stdout

    enriched = wrapped("enrich", "--limit", "2", env=env)
    assert enriched.returncode == 0, enriched.stderr
    assert "1 request to Spotify" in enriched.stdout, "one artist's genres and picture"
    assert "Nothing left to look up." in enriched.stdout


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_login_with_a_bad_secret_key_explains_how_to_make_one(settings: Settings) -> None:
    result = wrapped("login", "--no-browser", env=environment(settings, WRAPPED_SECRET_KEY="oops"))  # noqa: S106
    assert result.returncode == 1 and result.stdout == ""
    assert "WRAPPED_SECRET_KEY is not a Fernet key" in result.stderr
    assert "Fernet.generate_key()" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_polling_a_user_who_never_connected_says_how_to(settings: Settings) -> None:
    env = environment(settings)
    assert wrapped("users", "add", "--name", "Grace", env=env).returncode == 0
    result = wrapped("poll", "--user", "1", env=env)
    assert result.returncode == 1
    assert "not connected" in result.stdout and "wrapped login --user 1" in result.stdout


def test_a_poll_that_fails_for_one_user_polls_the_rest_and_names_them(
    settings: Settings, fake: FakeSpotify, engine: Engine
) -> None:
    now = datetime.now(UTC)
    connect_directly(engine, settings, fake, "ada.l", now)
    grace = connect_directly(engine, settings, fake, "grace", now)
    with engine.begin() as conn:
        # A timezone since dropped from the tz database: working out her lapse week fails.
        conn.execute(
            update(dim_user).where(dim_user.c.user_key == grace).values(timezone="US/Pacific-New")
        )
    fake.revoke("grace")

    result = wrapped("poll", env=environment(settings))

    assert result.returncode == 75
    assert "Traceback" not in result.stdout + result.stderr
    assert "Polled 1 of 2 users: 12 plays fetched, 12 new in the warehouse" in result.stdout
    assert f"error: polling failed for user {grace} (grace)\n" in result.stderr


def test_poll_sends_one_reconnect_email_to_a_user_whose_login_lapsed(
    settings: Settings, fake: FakeSpotify, engine: Engine
) -> None:
    ada = connect_directly(engine, settings, fake, "ada.l", datetime.now(UTC))
    with engine.begin() as conn:
        conn.execute(update(dim_user).values(email="ada@example.org"))
    fake.revoke("ada.l")
    env = environment(settings)

    first, second = wrapped("poll", env=env), wrapped("poll", env=env)

    assert first.returncode == second.returncode == 0
    assert "reconnect email sent" in first.stdout and "email" not in second.stdout
    emails = list((settings.data_dir / "outbox" / str(ada)).glob("*-reconnect.eml"))
    assert len(emails) == 1 and f"wrapped login --user {ada}" in emails[0].read_text()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_enrich_names_a_user_whose_connection_fails_and_uses_another(
    settings: Settings, fake: FakeSpotify, engine: Engine
) -> None:
    now = datetime.now(UTC)
    ada = connect_directly(engine, settings, fake, "ada.l", now)
    connect_directly(engine, settings, fake, "grace", now)
    env = environment(settings)
    assert wrapped("poll", env=env).returncode == 0
    with engine.begin() as conn:
        conn.execute(
            update(oauth_token)
            .where(oauth_token.c.user_key == ada)
            .values(access_token_enc="not a token")  # noqa: S106
        )

    result = wrapped("enrich", env=env)

    assert result.returncode == 1 and "Traceback" not in result.stdout + result.stderr
    assert "Nothing left to look up." in result.stdout, "another user's connection served"
    assert (
        f"error: the Spotify connection of user {ada} (ada.l) failed: the stored" in result.stderr
    )

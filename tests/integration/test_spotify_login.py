"""Logging in with Spotify: PKCE and state, tokens encrypted at rest, nothing secret in logs."""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from pydantic import SecretStr
from sqlalchemy import Engine, select

from tests.fakes.spotify import FakeSpotify
from tests.fakes.spotify.harness import log_in, spotify_settings
from weekly_wrapped.config import Settings
from weekly_wrapped.keys import InvalidSecretKey
from weekly_wrapped.sources.spotify.client import SpotifyClient
from weekly_wrapped.sources.spotify.errors import (
    LoginFailed,
    StateMismatch,
)
from weekly_wrapped.sources.spotify.login import login
from weekly_wrapped.sources.spotify.oauth import (
    code_from_callback,
    exchange_code,
    start_authorization,
)
from weekly_wrapped.sources.spotify.poller import Poller
from weekly_wrapped.sources.spotify.tokens import Token, cipher, load_tokens
from weekly_wrapped.warehouse.schema import dim_user, oauth_token
from weekly_wrapped.warehouse.users import add_user, list_users


@pytest.fixture
def fake() -> Iterator[FakeSpotify]:
    with FakeSpotify() as spotify:
        yield spotify


@pytest.fixture
def settings(fake: FakeSpotify, engine: Engine, tmp_path: Path) -> Settings:
    return spotify_settings(fake, engine, tmp_path)


def test_login_creates_the_user_and_keeps_only_encrypted_tokens(
    engine: Engine, settings: Settings, fake: FakeSpotify
) -> None:
    fake.add_listener("ada.l", "Ada Lovelace")
    connected = log_in(engine, settings, fake, "ada.l")

    assert connected.created and connected.display_name == "Ada Lovelace"
    with engine.connect() as conn:
        [user] = list_users(conn)
        rows = conn.execute(select(oauth_token)).all()
        stored = load_tokens(conn, cipher(settings), [user.user_key])[user.user_key]
    assert (user.spotify_user_id, user.auth_status) == ("ada.l", "ok")
    issued = fake.tokens_issued()
    assert isinstance(stored, Token)
    assert stored.access_token in issued and stored.refresh_token in issued
    cells = " ".join(str(value) for row in rows for value in row)
    assert not any(token in cells for token in issued), "a token is stored in plain text"


def test_logging_in_again_updates_the_same_user(
    engine: Engine, settings: Settings, fake: FakeSpotify
) -> None:
    first = log_in(engine, settings, fake, "ada.l")
    again = log_in(engine, settings, fake, "ada.l")
    assert (again.user_key, again.created) == (first.user_key, False)
    with engine.connect() as conn:
        assert len(list_users(conn)) == 1


def test_an_existing_user_can_be_connected_by_id(
    engine: Engine, settings: Settings, fake: FakeSpotify
) -> None:
    with engine.begin() as conn:
        user = add_user(conn, name="Grace", email="grace@example.org", timezone="Europe/Berlin")
    connected = log_in(engine, settings, fake, "grace.h", user_key=user)
    assert (connected.user_key, connected.created) == (user, False)
    with engine.connect() as conn:
        row = conn.execute(select(dim_user).where(dim_user.c.user_key == user)).one()
    assert (row.spotify_user_id, row.auth_status, row.timezone) == (
        "grace.h",
        "ok",
        "Europe/Berlin",
    )


def test_one_spotify_account_cannot_belong_to_two_users(
    engine: Engine, settings: Settings, fake: FakeSpotify
) -> None:
    owner = log_in(engine, settings, fake, "ada.l")
    with engine.begin() as conn:
        other = add_user(conn, name="Someone else")
    with pytest.raises(LoginFailed, match=f"already connected to user {owner.user_key}"):
        log_in(engine, settings, fake, "ada.l", user_key=other)


def test_a_callback_with_a_forged_state_is_refused(
    engine: Engine, settings: Settings, fake: FakeSpotify
) -> None:
    answers: list[requests.Response] = []
    visits: list[threading.Thread] = []

    def attacker(url: str) -> None:
        forged = f"{settings.spotify_redirect_uri}?code=stolen&state=forged"
        visits.append(
            threading.Thread(target=lambda: answers.append(requests.get(forged, timeout=5)))
        )
        visits[0].start()

    with pytest.raises(StateMismatch):
        login(engine, settings, show_url=attacker, open_browser=False, timeout_s=10)
    visits[0].join(5)
    assert answers and answers[0].status_code == 400 and "refused" in answers[0].text
    assert fake.requests_to("/api/token") == 0, "the forged code was never exchanged"
    with engine.connect() as conn:
        assert list_users(conn) == [] and conn.execute(select(oauth_token)).all() == []


def test_a_denied_authorization_says_so(
    engine: Engine, settings: Settings, fake: FakeSpotify
) -> None:
    fake.deny_consent = True
    with pytest.raises(LoginFailed, match="access_denied"):
        log_in(engine, settings, fake, "ada.l")


def test_with_a_bad_secret_key_nobody_is_sent_to_spotify(
    engine: Engine, settings: Settings, fake: FakeSpotify
) -> None:
    shown: list[str] = []
    bad_key = settings.model_copy(update={"secret_key": SecretStr("not-a-fernet-key")})
    with pytest.raises(InvalidSecretKey):
        login(engine, bad_key, show_url=shown.append, open_browser=False, timeout_s=5)
    assert shown == [] and fake.seen == []


def test_a_busy_callback_port_fails_before_the_browser_opens(
    engine: Engine, settings: Settings
) -> None:
    port = int(settings.spotify_redirect_uri.split(":")[2].split("/")[0])
    shown: list[str] = []
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        with pytest.raises(LoginFailed, match=f"cannot listen on 127.0.0.1:{port}"):
            login(engine, settings, show_url=shown.append, open_browser=False, timeout_s=5)
    assert shown == []


def test_no_token_reaches_the_logs_even_at_debug(
    engine: Engine, settings: Settings, fake: FakeSpotify, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake.add_listener("ada.l")
    log_in(engine, settings, fake, "ada.l")
    issued_at_login = fake.tokens_issued()
    fake.expire_access_tokens()
    [outcome] = Poller(engine, settings).poll().outcomes

    assert outcome.status == "ok"
    secrets = issued_at_login | fake.tokens_issued()
    assert len(secrets) >= 3, "login and refresh issued tokens"
    logged = caplog.text + " ".join(str(r.args) for r in caplog.records)
    assert "api/token" in logged or "recently-played" in logged, "DEBUG logging was on"
    assert not any(secret in logged for secret in secrets)


def test_a_code_without_the_matching_pkce_verifier_is_refused(
    settings: Settings, fake: FakeSpotify
) -> None:
    fake.add_listener("ada.l")
    request = start_authorization(settings)
    redirect = requests.get(request.url, allow_redirects=False, timeout=5).headers["Location"]
    query = {k: v[0] for k, v in parse_qs(urlsplit(redirect).query).items()}
    code = code_from_callback(request, query)
    stolen = replace(request, code_verifier=start_authorization(settings).code_verifier)
    client = SpotifyClient(settings)
    with pytest.raises(LoginFailed, match="code_verifier was incorrect"):
        exchange_code(client, stolen, code, datetime.now(UTC))
    client.close()

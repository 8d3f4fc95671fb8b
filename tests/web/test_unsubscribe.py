"""Unsubscribing through the recap email's signed link: the page, and RFC 8058's one-click POST."""

from __future__ import annotations

from email import message_from_bytes, policy
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine

from tests.fakes.spotify import FakeSpotify
from tests.web.conftest import LAST_WEEK, add_plays, log_in
from weekly_wrapped.config import Settings
from weekly_wrapped.delivery.service import send_recap
from weekly_wrapped.warehouse.users import get_user, update_user
from weekly_wrapped.weeks import parse_week

pytestmark = pytest.mark.parametrize("backend", ["sqlite"])


def emailed_link(engine: Engine, settings: Settings, user_key: int) -> str:
    """The List-Unsubscribe link of the user's real recap email, as the outbox holds it."""
    send_recap(engine, settings, user_key, parse_week(LAST_WEEK))
    assert settings.outbox_dir is not None
    [eml] = (settings.outbox_dir / str(user_key)).glob("*.eml")
    message = message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = str(message["List-Unsubscribe"]).strip("<>")
    assert link.startswith("https://wrapped.example.org/unsubscribe?")
    return link


def local(link: str) -> str:
    parts = urlsplit(link)
    return f"{parts.path}?{parts.query}"


def subscribed(engine: Engine, user_key: int) -> bool:
    with engine.connect() as conn:
        return get_user(conn, user_key).weekly_email


@pytest.fixture
def ada(app: Flask, fake: FakeSpotify, engine: Engine) -> int:
    user_key = log_in(app, fake, "ada").user_key
    with engine.begin() as conn:
        update_user(conn, user_key, email="ada@example.org", weekly_email=True)
    add_plays(engine, user_key, "Nova Lane")
    return user_key


def test_the_emails_link_shows_a_page_and_its_button_unsubscribes(
    app: Flask, engine: Engine, settings: Settings, ada: int
) -> None:
    link = local(emailed_link(engine, settings, ada))
    stranger = app.test_client()  # no session: the link is read in any browser
    page = stranger.get(link)
    assert page.status_code == 200 and 'id="unsubscribe"' in page.get_data(as_text=True)
    assert subscribed(engine, ada), "opening the link alone must not unsubscribe"
    done = stranger.post(link)
    assert done.status_code == 200 and "You are unsubscribed" in done.get_data(as_text=True)
    assert not subscribed(engine, ada)


def test_a_mail_clients_one_click_post_unsubscribes_without_session_or_csrf(
    app: Flask, engine: Engine, settings: Settings, ada: int
) -> None:
    link = local(emailed_link(engine, settings, ada))
    answer = FlaskClient(app).post(
        link, data="List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
    )
    assert answer.status_code == 200
    assert not subscribed(engine, ada)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda q: q.replace("token=", "token=x"),
        lambda q: q.replace("user=1", "user=2"),
        lambda q: q.split("&token=")[0],
        lambda q: q.replace("user=1", "user=%D9%A1"),  # an Arabic-Indic one
    ],
)
def test_a_link_we_did_not_sign_changes_nothing(
    app: Flask, engine: Engine, settings: Settings, ada: int, fake: FakeSpotify, tamper: object
) -> None:
    log_in(app, fake, "bea")
    link = tamper(local(emailed_link(engine, settings, ada)))  # type: ignore[operator]
    client = app.test_client()
    assert client.get(link).status_code == 404
    assert client.post(link).status_code == 404
    assert subscribed(engine, ada)

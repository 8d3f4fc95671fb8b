"""Security of every page: headers, CSRF on every form, no inline script, JSON errors."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from sqlalchemy import Engine

from tests.fakes.spotify import FakeSpotify
from tests.web.conftest import add_plays, csrf_token, log_in
from weekly_wrapped.warehouse.users import get_user

pytestmark = pytest.mark.parametrize("backend", ["sqlite"])
PAGES = ["/weeks/2026-W48", "/weeks/2026-W47", "/all-time", "/years/2026", "/settings", "/import"]


def test_every_page_sends_the_security_headers_and_has_no_inline_script(
    app: Flask, fake: FakeSpotify, engine: Engine
) -> None:
    ada = log_in(app, fake, "ada")
    add_plays(engine, ada.user_key, "Nova Lane")
    for path in [*PAGES, "/login", "/api/v1/me", "/healthz"]:
        answer = (app.test_client() if path == "/login" else ada.client).get(path)
        assert answer.status_code == 200, path
        policy = answer.headers["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
        assert "unsafe-inline" not in policy
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert answer.headers["Referrer-Policy"] == "same-origin"
        page = answer.get_data(as_text=True)
        assert not re.search(r"<script(?![^>]*\bsrc=)", page), f"inline script on {path}"
        assert not re.search(r"\son[a-z]+=", page), f"inline handler on {path}"
        assert "http://" not in page.replace("http://www.w3.org", ""), (
            f"a plain-http asset on {path}"
        )


@pytest.mark.parametrize(
    ("path", "form"),
    [
        ("/settings", {"email": "eve@evil.example", "timezone": "UTC"}),
        ("/welcome", {"email": "eve@evil.example", "timezone": "UTC"}),
        ("/logout", {}),
        ("/login", {}),
    ],
)
def test_a_form_without_its_csrf_token_is_refused(
    app: Flask, fake: FakeSpotify, engine: Engine, path: str, form: dict[str, str]
) -> None:
    ada = log_in(app, fake, "ada")
    refused = ada.client.post(path, data=form)
    forged = ada.client.post(path, data=form | {"csrf_token": "forged"})
    assert (refused.status_code, forged.status_code) == (400, 400)
    assert "refused" in refused.get_data(as_text=True)
    with engine.connect() as conn:
        assert get_user(conn, ada.user_key).email is None
    assert ada.client.get("/api/v1/me").status_code == 200  # still logged in


def test_an_upload_without_its_csrf_token_is_refused(app: Flask, fake: FakeSpotify) -> None:
    ada = log_in(app, fake, "ada")
    refused = ada.client.post("/import", data={"export": (b"[]", "history.json")},
                              content_type="multipart/form-data")  # fmt: skip
    assert refused.status_code == 400


def test_a_form_with_its_token_is_accepted(app: Flask, fake: FakeSpotify, engine: Engine) -> None:
    ada = log_in(app, fake, "ada")
    token = csrf_token(ada.client, "/settings")
    saved = ada.client.post("/settings", data={"csrf_token": token, "email": "ada@example.org",
                                               "timezone": "Asia/Tokyo"})  # fmt: skip
    assert saved.status_code == 302
    with engine.connect() as conn:
        user = get_user(conn, ada.user_key)
    assert (user.email, user.timezone, user.weekly_email) == (
        "ada@example.org",
        "Asia/Tokyo",
        False,
    )


def test_a_bad_value_is_said_on_the_form(app: Flask, fake: FakeSpotify) -> None:
    ada = log_in(app, fake, "ada")
    token = csrf_token(ada.client, "/settings")
    answer = ada.client.post("/settings", data={"csrf_token": token, "timezone": "Mars/Olympus"})
    assert answer.status_code == 400
    assert "unknown timezone" in answer.get_data(as_text=True)


def test_api_errors_are_json_and_pages_are_html(app: Flask, fake: FakeSpotify) -> None:
    anonymous = app.test_client()
    answer = anonymous.get("/api/v1/stats")
    assert answer.status_code == 401 and answer.json is not None
    assert answer.json["error"]["status"] == 401
    missing = anonymous.get("/api/v1/nothing-here")
    assert missing.status_code == 404 and missing.json["error"]["status"] == 404  # type: ignore[index]
    ada = log_in(app, fake, "ada")
    bad = ada.client.get("/api/v1/weeks/2026-W99/recap")
    assert bad.status_code == 400 and "2026 has no week 99" in bad.json["error"]["message"]  # type: ignore[index]
    page = anonymous.get("/weeks/2026-W47")
    assert page.status_code == 302 and "/login" in page.headers["Location"]

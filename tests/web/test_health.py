"""Health endpoints: liveness, readiness naming what is down, and Prometheus metrics."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import Engine

from tests.fakes.spotify import FakeSpotify
from tests.web.conftest import add_plays, log_in, web_settings
from weekly_wrapped.warehouse import db
from weekly_wrapped.web import create_app

pytestmark = pytest.mark.parametrize("backend", ["sqlite"])


def test_health_readiness_and_metrics(app: Flask, fake: FakeSpotify, engine: Engine) -> None:
    ada = log_in(app, fake, "ada")
    added = add_plays(engine, ada.user_key, "Nova Lane")
    client = app.test_client()
    assert client.get("/healthz").json == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json["checks"] == {"database": "ok", "bus": "ok"}  # type: ignore[index]
    metrics = client.get("/metrics")
    assert metrics.headers["Content-Type"].startswith("text/plain")
    text = metrics.get_data(as_text=True)
    assert f"wrapped_plays_ingested {float(added)}" in text
    assert "wrapped_poll_lag_seconds" in text and "wrapped_emails" in text


def test_readiness_fails_when_the_database_is_gone(
    fake: FakeSpotify, engine: Engine, tmp_path: Path
) -> None:
    settings = web_settings(fake, engine, tmp_path)
    gone = db.connect(
        "postgresql://nobody@127.0.0.1:1/wrapped", connect_args={"connect_timeout": 2}
    )
    answer = create_app(settings, engine=gone).test_client().get("/readyz")
    assert answer.status_code == 503
    assert answer.json["checks"]["database"].startswith("unreachable")  # type: ignore[index]

"""User A can read none of user B's data through any route: a walk over every route.

Each route is called as A with B's values for every part of the URL (B's weeks,
years and upload ids); whatever it answers, B's names never appear, and B's
id-addressed resources answer 404.
"""

from __future__ import annotations

import io
import json
import time

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine

from tests.factories import extended_row
from tests.fakes.spotify import FakeSpotify
from tests.web.conftest import LAST_WEEK, add_plays, csrf_token, log_in

pytestmark = pytest.mark.parametrize("backend", ["sqlite"])
BEAS_ARTIST = "Bea's Hidden Band"
QUERIES = {
    "api.stats": "?from=2026-01-01&to=2026-12-31",
    "api.plays": "?from=2026-01-01&to=2026-12-31&limit=500",
}


def upload_export(client: FlaskClient, artist: str) -> str:
    """Upload a one-file export; its upload id once the import has finished."""
    rows = [extended_row(f"2026-11-1{d}T10:00:00Z", artist=artist) for d in range(5)]
    answer = client.post(
        "/import",
        data={"csrf_token": csrf_token(client, "/import"),
              "export": (io.BytesIO(json.dumps(rows).encode()), "Streaming_History_Audio_2026.json")},
        content_type="multipart/form-data",
    )  # fmt: skip
    assert answer.status_code == 302, answer.get_data(as_text=True)
    upload_id = answer.headers["Location"].split("upload=")[1]
    for _ in range(200):
        state = client.get(f"/api/v1/imports/{upload_id}").json
        if state and state["state"] != "running":
            break
        time.sleep(0.05)
    assert state is not None and state["state"] == "done", state
    return upload_id


def test_no_route_shows_one_user_another_users_data(
    app: Flask, fake: FakeSpotify, engine: Engine
) -> None:
    ada = log_in(app, fake, "ada")
    bea = log_in(app, fake, "bea")
    add_plays(engine, ada.user_key, "Ada's Band")
    add_plays(engine, bea.user_key, BEAS_ARTIST)
    bea_upload = upload_export(bea.client, BEAS_ARTIST)
    values = {"week": LAST_WEEK, "year": 2026, "upload_id": bea_upload}
    # Bea sees her own data through the same routes, so the walk below can fail.
    assert BEAS_ARTIST in bea.client.get(f"/api/v1/weeks/{LAST_WEEK}/recap").get_data(as_text=True)

    walked = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or "GET" not in (rule.methods or ()):
            continue
        path = rule.rule
        for name in rule.arguments:
            path = path.replace(f"<{name}>", str(values[name])).replace(
                f"<int:{name}>", str(values[name])
            )
        path += QUERIES.get(rule.endpoint, "")
        answer = ada.client.get(path)
        walked.append(rule.endpoint)
        body = answer.get_data(as_text=True)
        assert BEAS_ARTIST not in body, f"{path} shows another user's data"
        assert answer.status_code < 500, path
        if "upload_id" in rule.arguments:
            assert answer.status_code == 404, f"{path} answers another user's upload"
    assert {"api.recap", "api.plays", "api.stats", "api.upload", "dashboard.week",
            "dashboard.upload_progress", "dashboard.year", "dashboard.all_time"} <= set(walked)  # fmt: skip
    own = ada.client.get(f"/import?upload={bea_upload}")
    assert own.status_code == 404


def test_a_user_sees_their_own_plays_across_pages(
    app: Flask, fake: FakeSpotify, engine: Engine
) -> None:
    ada = log_in(app, fake, "ada")
    added = add_plays(engine, ada.user_key, "Ada's Band", days=20, per_day=5)
    add_plays(engine, log_in(app, fake, "bea").user_key, BEAS_ARTIST)
    seen, cursor = [], ""
    while True:
        page = ada.client.get(f"/api/v1/plays?limit=7{cursor}").json
        assert page is not None
        seen += [p["id"] for p in page["plays"]]
        assert all(p["artist"] == "Ada's Band" for p in page["plays"])
        if page["next_cursor"] is None:
            break
        cursor = f"&cursor={page['next_cursor']}"
    assert len(seen) == len(set(seen)) == added

"""The JSON API: answers match the stats services, the OpenAPI document is valid, and
schemathesis, driving the WSGI app in-process, finds no 500 and no schema violation."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from openapi_spec_validator import validate
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import Engine, update

from tests.fakes.spotify import FakeSpotify
from tests.web.conftest import LAST_WEEK, NOW, add_plays, log_in
from weekly_wrapped.insights.recap import build_recap
from weekly_wrapped.insights.stats import weekly_stats
from weekly_wrapped.insights.writers import OfflineWriter
from weekly_wrapped.warehouse.schema import dim_user
from weekly_wrapped.web.openapi import document

SQLITE = pytest.mark.parametrize("backend", ["sqlite"])
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]  # fmt: skip


def test_the_openapi_document_is_valid_openapi_3_1() -> None:
    spec = document()
    assert spec["openapi"] == "3.1.0"
    validate(spec)  # raises on any problem
    assert set(spec["paths"]) == {
        "/api/v1/me", "/api/v1/weeks/{week}/recap", "/api/v1/stats", "/api/v1/plays",
        "/api/v1/imports/{upload_id}",
    }  # fmt: skip


@SQLITE
def test_a_weeks_recap_carries_the_weeks_stats(
    app: Flask, fake: FakeSpotify, engine: Engine
) -> None:
    ada = log_in(app, fake, "ada")
    add_plays(engine, ada.user_key, "Nova Lane")
    recap = ada.client.get(f"/api/v1/weeks/{LAST_WEEK}/recap").json
    with engine.connect() as conn:
        expected = weekly_stats(conn, ada.user_key, LAST_WEEK, now=NOW)
    assert recap is not None and recap["week"] == LAST_WEEK
    assert recap["stats"] == expected.model_dump(mode="json")
    assert recap["writer"]["name"] == "offline" and recap["story"]["headline"]
    stats = ada.client.get("/api/v1/stats?from=2026-11-16&to=2026-11-22").json
    assert stats is not None and stats["streams"] == expected.streams > 0
    assert ada.client.get("/api/v1/weeks/2026-W50/recap").status_code == 404  # not begun


@SQLITE
def test_the_week_so_far_counts_a_play_as_soon_as_it_arrives(
    app: Flask, fake: FakeSpotify, engine: Engine
) -> None:
    ada = log_in(app, fake, "ada")
    add_plays(engine, ada.user_key, "Nova Lane", days=2)
    before = ada.client.get("/api/v1/weeks/2026-W48/recap").json
    assert ada.client.get("/api/v1/weeks/2026-W48/recap").json == before  # answered again
    add_plays(engine, ada.user_key, "Sable Youth", days=1, per_day=1)
    after = ada.client.get("/api/v1/weeks/2026-W48/recap").json
    assert before is not None and after is not None
    assert after["stats"]["streams"] == before["stats"]["streams"] + 1


def test_a_past_weeks_json_shows_plays_imported_after_it_was_read(
    app: Flask, fake: FakeSpotify, engine: Engine
) -> None:
    ada = log_in(app, fake, "ada")
    add_plays(engine, ada.user_key, "Nova Lane")
    before = ada.client.get(f"/api/v1/weeks/{LAST_WEEK}/recap").json
    add_plays(engine, ada.user_key, "Sable Youth", per_day=1)  # an import into that week
    after = ada.client.get(f"/api/v1/weeks/{LAST_WEEK}/recap").json
    with engine.connect() as conn:
        expected = weekly_stats(conn, ada.user_key, LAST_WEEK, now=NOW)
    assert before is not None and after is not None
    assert after["stats"] == expected.model_dump(mode="json")
    assert after["stats"]["streams"] == before["stats"]["streams"] + 7


def test_a_stored_weeks_json_follows_a_rebuilt_recap_and_a_renamed_user(
    app: Flask, fake: FakeSpotify, engine: Engine
) -> None:
    ada = log_in(app, fake, "ada")
    add_plays(engine, ada.user_key, "Nova Lane")
    monday = date(2026, 11, 16)
    build_recap(engine, ada.user_key, monday, OfflineWriter(), now=NOW)
    stored = ada.client.get(f"/api/v1/weeks/{LAST_WEEK}/recap").json
    add_plays(engine, ada.user_key, "Sable Youth", per_day=1)
    # The stored recap is the one emailed: later plays change it only once it is rebuilt.
    assert ada.client.get(f"/api/v1/weeks/{LAST_WEEK}/recap").json == stored
    build_recap(engine, ada.user_key, monday, OfflineWriter(), now=NOW + timedelta(minutes=5))
    with engine.begin() as conn:
        conn.execute(
            update(dim_user).where(dim_user.c.user_key == ada.user_key).values(display_name="Ada L")
        )
    rebuilt = ada.client.get(f"/api/v1/weeks/{LAST_WEEK}/recap").json
    assert stored is not None and rebuilt is not None
    assert rebuilt["stats"]["streams"] == stored["stats"]["streams"] + 7
    assert rebuilt["user"]["name"] == "Ada L"


@SQLITE
def test_bad_parameters_get_a_json_400_naming_them(app: Flask, fake: FakeSpotify) -> None:
    ada = log_in(app, fake, "ada")
    for path, words in [
        ("/api/v1/stats?from=2026-02-30", "not a day"),
        ("/api/v1/stats?from=2026-03-01&to=2026-02-01", "comes before"),
        ("/api/v1/plays?cursor=not-ours", "not a cursor"),
        ("/api/v1/plays?limit=0", "limit"),
        ("/api/v1/weeks/1999-W01/recap", "outside"),
    ]:
        answer = ada.client.get(path)
        assert answer.status_code == 400, path
        assert words in answer.json["error"]["message"], path  # type: ignore[index]


@SQLITE
def test_schemathesis_finds_no_server_error_and_no_schema_violation(
    app: Flask, fake: FakeSpotify, engine: Engine
) -> None:
    ada = log_in(app, fake, "ada")
    add_plays(engine, ada.user_key, "Nova Lane", days=30)
    cookie = ada.client.get_cookie("wrapped_session")
    assert cookie is not None
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 5
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=60, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))  # fmt: skip
        def fuzz(case: schemathesis.Case) -> None:
            response = case.call(cookies={"wrapped_session": cookie.value})
            case.validate_response(response, checks=CHECKS)

        fuzz()

"""The Gemini and OpenAI-compatible writers, through the real SDKs, against local fakes.

Each test builds a real recap in a real warehouse (SQLite and PostgreSQL); only the
model is fake. The timeout tests use a short timeout, so a stalled server costs
about a second; the others a generous one, so a busy test machine cannot fail them.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from tests.factories import play
from tests.fakes import gemini as gemini_wire
from tests.fakes import openai_compat as openai_wire
from tests.fakes.gemini import FakeGemini
from tests.fakes.openai_compat import FakeOpenAI
from tests.fakes.spotify.harness import connect_directly, spotify_settings
from tests.fakes.spotify.server import FakeSpotify
from tests.fakes.storyteller import WRONG_NUMBER, FakeModelServer
from weekly_wrapped.config import Settings, load_settings
from weekly_wrapped.delivery.service import send_recap
from weekly_wrapped.insights.history import load_history
from weekly_wrapped.insights.recap import Recap, build_recap, write_story
from weekly_wrapped.insights.stats import weekly_stats
from weekly_wrapped.insights.writers import UnavailableWriter, writer_for
from weekly_wrapped.processing.embedded import EmbeddedProcessor
from weekly_wrapped.warehouse import users
from weekly_wrapped.warehouse.schema import recap as recap_table

WEEK = date(2026, 11, 16)
WEDNESDAY = datetime(2026, 11, 18, 18, 0, tzinfo=UTC)
MARCH = datetime(2026, 3, 10, 18, 0, tzinfo=UTC)
NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
TIMEOUT_S = 0.4
"""The timeout of the tests that time out; a fake that stalls answers after 3 s."""
EMAIL = "ada@example.com"


@dataclass
class Llm:
    """One fake model server and the settings that point a writer at it."""

    kind: str
    fake: FakeModelServer
    settings: dict[str, Any]

    def configure(self, tmp_path: Path, **overrides: Any) -> Settings:
        values = {"data_dir": tmp_path, "writer_timeout_s": 10.0, "writer_retries": 1,
                  "writer_deadline_s": 30.0, **self.settings}  # fmt: skip
        return load_settings(**(values | overrides))

    def sent(self, index: int) -> str:
        request = self.fake.requests[index]
        if self.kind == "gemini":
            return "\n".join(gemini_wire.texts(request))
        return "\n".join(str(m["content"]) for m in openai_wire.messages(request))


@pytest.fixture(params=["gemini", "openai"])
def llm(request: pytest.FixtureRequest) -> Iterator[Llm]:
    if request.param == "gemini":
        with FakeGemini(delay_s=3) as fake:
            yield Llm("gemini", fake, {"writer": "gemini", "gemini_api_key": fake.api_key,
                                       "gemini_base_url": fake.url})  # fmt: skip
    else:
        with FakeOpenAI(delay_s=3) as fake:
            yield Llm("openai", fake, {"writer": "openai", "openai_api_key": fake.api_key,
                                       "openai_base_url": fake.url + "/v1"})  # fmt: skip


def listen(engine: Engine, user: int) -> None:
    """Eight plays this week, and a favourite from March."""
    EmbeddedProcessor(engine).process([
        *(play(user, WEDNESDAY + timedelta(minutes=4 * i)) for i in range(5)),
        *(play(user, WEDNESDAY + timedelta(hours=2, minutes=4 * i), artist="Salt",
               title="Undertow") for i in range(3)),
        *(play(user, MARCH + timedelta(hours=i), artist="Cass Quill", title="Paper Kites")
          for i in range(7)),
    ])  # fmt: skip


def add_listener(engine: Engine) -> int:
    with engine.begin() as conn:
        user = users.add_user(conn, name="Ada", email=EMAIL, timezone="Europe/Berlin")
    listen(engine, user)
    return user


def recap_row(engine: Engine) -> Any:
    with engine.connect() as conn:
        return conn.execute(select(recap_table)).one()


def build(engine: Engine, user: int, settings: Settings) -> Recap:
    return build_recap(engine, user, WEEK, writer_for(settings), now=NOW)


# --- a good story ---------------------------------------------------------------------


def test_a_good_story_lands_in_the_recap(engine: Engine, llm: Llm, tmp_path: Path) -> None:
    settings = llm.configure(tmp_path)
    built = build(engine, add_listener(engine), settings)
    row = recap_row(engine)
    model = settings.gemini_model if llm.kind == "gemini" else settings.openai_model
    assert (built.writer, built.model, built.attempts) == (llm.kind, model, 1)
    assert (row.writer, row.model, row.attempts) == (llm.kind, model, 1)
    assert row.grounding["passed"] and row.grounding["fallback"] is None
    assert row.grounding["prompt"] == "story-v1"
    assert built.story.headline == "Nova Lane set the tone"
    assert "26.7 minutes" in built.story.summary and row.story == built.story.model_dump(
        mode="json"
    )
    assert [p.track for p in built.story.recommendations] == [p["track"] for p in llm.fake.picks]
    assert not any(p.verified or p.spotify_url for p in built.story.recommendations)


def test_the_model_gets_the_stats_a_schema_and_nothing_personal(
    engine: Engine, llm: Llm, tmp_path: Path
) -> None:
    settings = llm.configure(tmp_path, writer_language="Deutsch")
    build(engine, add_listener(engine), settings)
    (request,) = llm.fake.requests
    sent = llm.sent(0)
    assert "<stats>" in sent and '"minutes_listened":26.7' in sent and "Deutsch" in sent
    assert EMAIL not in sent and "Europe/Berlin" not in sent and "user_id" not in sent
    assert llm.fake.api_key not in str(request.body)
    if llm.kind == "gemini":
        assert request.path == f"/v1beta/models/{settings.gemini_model}:generateContent"
        config = gemini_wire.generation_config(request)
        assert config["responseMimeType"] == "application/json"
        assert "recommendations" in config["responseSchema"]["properties"]
    else:
        assert request.body["response_format"]["type"] == "json_schema"
        assert request.body["response_format"]["json_schema"]["strict"] is True


def test_a_good_story_lands_in_the_email(engine: Engine, llm: Llm, tmp_path: Path) -> None:
    settings = llm.configure(tmp_path, email="outbox", secret_key="k" * 43 + "=")
    user = add_listener(engine)
    outcome = send_recap(engine, settings, user, WEEK)
    message = message_from_bytes(Path(str(outcome.detail)).read_bytes(), policy=policy.default)
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Nova Lane set the tone" in text and "Paper Orbit" in text
    assert recap_row(engine).writer == llm.kind


# --- stories that fail the check ---------------------------------------------------------


@pytest.mark.parametrize("behaviour", ["wrong_number", "unknown_name"])
def test_a_hallucination_is_retried_then_falls_back_and_says_so(
    engine: Engine, llm: Llm, tmp_path: Path, behaviour: str
) -> None:
    llm.fake.script(behaviour, behaviour)
    built = build(engine, add_listener(engine), llm.configure(tmp_path))
    row = recap_row(engine)
    assert (built.writer, built.model, built.attempts) == ("offline", None, 2)
    assert (row.writer, row.attempts) == ("offline", 2)
    fallback = row.grounding["fallback"]
    assert (fallback["writer"], fallback["error"]) == (llm.kind, "StoryRejected")
    culprit = "987,654" if behaviour == "wrong_number" else "Imaginary Anthem"
    assert any(culprit in problem for problem in fallback["problems"])
    assert row.grounding["passed"], "the offline story passes the check"
    assert culprit not in str(row.story)
    assert len(llm.fake.requests) == 2
    retry = llm.sent(1)
    assert "That story was rejected" in retry and culprit in retry


def test_a_story_corrected_on_the_retry_is_kept(engine: Engine, llm: Llm, tmp_path: Path) -> None:
    llm.fake.script("wrong_number", "good")
    built = build(engine, add_listener(engine), llm.configure(tmp_path))
    assert (built.writer, built.attempts) == (llm.kind, 2)
    assert WRONG_NUMBER not in built.story.summary


@pytest.mark.parametrize("behaviour", ["invalid_json", "not_a_story", "timeout"])
def test_broken_answers_and_timeouts_fall_back_within_the_time_bound(
    engine: Engine, llm: Llm, tmp_path: Path, behaviour: str
) -> None:
    user = add_listener(engine)
    with engine.connect() as conn:
        stats = weekly_stats(conn, user, WEEK, now=NOW)
        history = load_history(conn, user, WEEK, [a.name for a in stats.top_artists])
    writer = writer_for(llm.configure(tmp_path, writer_timeout_s=TIMEOUT_S))
    llm.fake.script(*[behaviour] * 4)
    started = time.monotonic()
    written = write_story(writer, stats, history)
    elapsed = time.monotonic() - started
    # Two requests of at most TIMEOUT_S each (a draft and its retry, or a request
    # and its retry after a timeout), plus one backoff of at most a second.
    assert elapsed < 2 * TIMEOUT_S + 1.5, elapsed
    assert written.writer == "offline" and written.story.summary and written.grounding.passed
    assert written.fallback is not None and len(llm.fake.requests) == 2
    expected = "did not answer" if behaviour == "timeout" else "failed the checks twice"
    assert expected in written.fallback["reason"]


def test_a_rate_limit_is_retried_and_a_failing_server_falls_back(
    engine: Engine, llm: Llm, tmp_path: Path, retry_waits: list[float]
) -> None:
    user = add_listener(engine)
    settings = llm.configure(tmp_path)
    llm.fake.script("429")
    assert build(engine, user, settings).writer == llm.kind
    assert [r.behaviour for r in llm.fake.requests] == ["429", "good"]
    # The OpenAI fake sends Retry-After: 1, which is waited out; Gemini's names no wait.
    assert retry_waits == ([1.0] if llm.kind == "openai" else [0.5])
    llm.fake.script(*["500"] * 4)
    failed = build(engine, user, settings)
    assert failed.writer == "offline"
    assert "HTTP 500" in recap_row(engine).grounding["fallback"]["reason"]
    assert len(llm.fake.requests) == 2 + 2, "one retry (WRAPPED_WRITER_RETRIES=1), then fallback"


def test_a_retry_after_longer_than_the_story_can_wait_falls_back_at_once(
    engine: Engine, tmp_path: Path, retry_waits: list[float]
) -> None:
    with FakeOpenAI(retry_after_s=120) as fake:
        settings = load_settings(data_dir=tmp_path, writer="openai", writer_retries=3,
                                 openai_base_url=fake.url + "/v1", openai_api_key=fake.api_key)  # fmt: skip
        fake.script("429", "good")
        built = build(engine, add_listener(engine), settings)
        asked = [r.behaviour for r in fake.requests]
    assert built.writer == "offline" and asked == ["429"] and retry_waits == []
    assert "HTTP 429" in recap_row(engine).grounding["fallback"]["reason"]


def test_a_missing_key_never_blocks_a_recap(engine: Engine, llm: Llm, tmp_path: Path) -> None:
    key = "gemini_api_key" if llm.kind == "gemini" else "openai_api_key"
    base_url = {"openai_base_url": "https://api.openai.com/v1"} if llm.kind == "openai" else {}
    settings = llm.configure(tmp_path, **{key: None, **base_url})
    writer = writer_for(settings)
    assert isinstance(writer, UnavailableWriter)
    built = build_recap(engine, add_listener(engine), WEEK, writer, now=NOW)
    assert built.writer == "offline"
    assert f"WRAPPED_{key.upper()}" in recap_row(engine).grounding["fallback"]["reason"]
    assert llm.fake.requests == []


def test_a_server_without_structured_output_gets_json_mode(engine: Engine, tmp_path: Path) -> None:
    with FakeOpenAI(json_schema=False) as fake:
        settings = load_settings(data_dir=tmp_path, writer="openai", openai_base_url=fake.url + "/v1",
                                 openai_api_key=fake.api_key)  # fmt: skip
        built = build(engine, add_listener(engine), settings)
        kinds = [r.body["response_format"]["type"] for r in fake.requests]
    assert built.writer == "openai" and built.story.headline == "Nova Lane set the tone"
    assert kinds == ["json_schema", "json_object"]
    assert "JSON Schema" in str(fake.requests[1].body["messages"][0]["content"])


# --- recommendations -----------------------------------------------------------------------


def test_a_recommended_track_already_in_history_is_removed(
    engine: Engine, llm: Llm, tmp_path: Path
) -> None:
    heard = {"artist": "CASS QUILL", "track": "paper  kites", "why": "An old favourite."}
    llm.fake.picks = [heard, *llm.fake.picks]
    built = build(engine, add_listener(engine), llm.configure(tmp_path))
    kept = [p.track for p in built.story.recommendations]
    assert built.writer == llm.kind
    assert kept == ["Paper Orbit", "Honey Window", "Silver Rain"]


@pytest.mark.parametrize("key_from", ["WRAPPED_SECRET_KEY", "the key file"])
def test_with_a_spotify_token_only_real_tracks_are_kept_with_links(
    engine: Engine, tmp_path: Path, key_from: str
) -> None:
    with FakeSpotify() as spotify, FakeGemini() as gemini:
        real = spotify.catalog.track_list()[:2]
        gemini.picks = [
            *({"artist": spotify.catalog.artists[t.artist_ids[0]].name, "track": t.name,
               "why": "Close to your week."} for t in real),
            {"artist": "The Nobodies", "track": "Imaginary Anthem", "why": "Made up."},
        ]  # fmt: skip
        key = {} if key_from == "WRAPPED_SECRET_KEY" else {"secret_key": None}
        settings = spotify_settings(spotify, engine, tmp_path, writer="gemini",
                                    gemini_api_key=gemini.api_key, gemini_base_url=gemini.url,
                                    **key)  # fmt: skip
        user = connect_directly(engine, settings, spotify, "ada", datetime.now(UTC))
        assert (tmp_path / "secret.key").exists() == (key_from == "the key file")
        listen(engine, user)
        built = build(engine, user, settings)
        searches = spotify.requests_to("/v1/search")
    picks = built.story.recommendations
    assert [p.track for p in picks] == [t.name for t in real]
    assert all(p.verified for p in picks)
    assert [p.spotify_url for p in picks] == [
        f"https://open.spotify.com/track/{t.id}" for t in real
    ]
    assert searches == 3


def test_a_spent_token_budget_falls_back_without_asking(
    engine: Engine, llm: Llm, tmp_path: Path
) -> None:
    built = build(engine, add_listener(engine), llm.configure(tmp_path, writer_token_budget=1500))
    assert built.writer == "offline"
    assert "token budget" in recap_row(engine).grounding["fallback"]["reason"]
    assert llm.fake.requests == []


def test_without_the_llm_extra_the_writer_says_how_to_install_it(
    llm: Llm, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sdk = "google.genai" if llm.kind == "gemini" else "openai"
    monkeypatch.setitem(sys.modules, sdk, None)
    writer = writer_for(llm.configure(tmp_path))
    assert isinstance(writer, UnavailableWriter)
    assert str(writer.error).endswith(
        f"needs {sdk}, which is not installed: pip install 'weekly-wrapped[llm]'"
    )

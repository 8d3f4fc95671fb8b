"""The quality set: 30 generated weeks of varied shape, every story grounded after the fallback.

The same weeks `benchmarks/quality_set.py` sends to a real Gemini key or a local
Ollama. Here the models are the fakes, each week with its own misbehaviour, and the
real SDKs talk to them: whatever the model does, the recap's story passes the check.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.gemini import FakeGemini
from tests.fakes.openai_compat import FakeOpenAI
from tests.fakes.storyteller import FakeModelServer
from tests.unit.test_offline_writer import generated_weeks
from weekly_wrapped.config import Settings, load_settings
from weekly_wrapped.identity import song_key
from weekly_wrapped.insights.grounding import check_story
from weekly_wrapped.insights.history import History
from weekly_wrapped.insights.models import ListeningStats
from weekly_wrapped.insights.recap import write_story
from weekly_wrapped.insights.recommend import PickContext
from weekly_wrapped.insights.writers import OfflineWriter, writer_for

QUALITY_SET = list(generated_weeks(30, seed=30))
# What the model does each week, and who should end up writing the story.
SCENARIOS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("good",), "llm"),
    (("wrong_number", "good"), "llm"),
    (("wrong_number", "wrong_number"), "offline"),
    (("unknown_name", "unknown_name"), "offline"),
    (("invalid_json", "good"), "llm"),
    (("invalid_json", "invalid_json"), "offline"),
    (("not_a_story", "not_a_story"), "offline"),
    (("429", "good"), "llm"),
    (("500", "500"), "offline"),
)


def heard_in(stats: ListeningStats, history: History) -> frozenset[str]:
    """Song keys the week and the history show the user has heard."""
    songs = [(t.artist or "", t.name) for t in [*stats.top_tracks, *stats.new_tracks]]
    songs += [(t.artist, t.track) for t in [*history.favourites_gone_quiet,
                                           *history.more_from_top_artists]]  # fmt: skip
    return frozenset(song_key(artist, track) for artist, track in songs)


@pytest.fixture(params=["gemini", "openai"])
def fake_llm(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[FakeModelServer, Settings]]:
    common = {"data_dir": tmp_path, "writer_timeout_s": 10.0, "writer_retries": 1}
    if request.param == "gemini":
        with FakeGemini() as fake:
            yield fake, load_settings(writer="gemini", gemini_api_key=fake.api_key,
                                      gemini_base_url=fake.url, **common)  # fmt: skip
    else:
        with FakeOpenAI() as fake:
            yield fake, load_settings(writer="openai", openai_api_key=fake.api_key,
                                      openai_base_url=fake.url + "/v1", **common)  # fmt: skip


def test_the_quality_set_has_weeks_of_every_shape() -> None:
    shapes = {(s.plays > 0, s.podcasts.minutes > 0, s.coverage.complete, s.vs_last_week is None)
              for s, _ in QUALITY_SET}  # fmt: skip
    assert len(QUALITY_SET) == 30
    assert len(shapes) >= 6
    assert any(s.plays == 0 for s, _ in QUALITY_SET) and any(s.plays > 1000 for s, _ in QUALITY_SET)


def test_every_offline_story_of_the_quality_set_is_grounded() -> None:
    for stats, history in QUALITY_SET:
        assert check_story(OfflineWriter().write(stats, history), stats, history).passed


def test_every_story_of_the_quality_set_is_grounded_after_the_fallback(
    fake_llm: tuple[FakeModelServer, Settings],
) -> None:
    fake, settings = fake_llm
    writer = writer_for(settings)
    writers = []
    for index, (stats, history) in enumerate(QUALITY_SET):
        behaviours, expected = SCENARIOS[index % len(SCENARIOS)]
        fake.script(*behaviours)
        context = PickContext(None, stats.user_id, stats.period_start, heard_in(stats, history))
        written = write_story(writer, stats, history, context)
        result = check_story(written.story, stats, history)
        assert result.passed, (index, result.problems)
        assert written.grounding.passed
        assert written.writer == (writer.name if expected == "llm" else "offline"), index
        writers.append(written.writer)
    assert len(fake.requests) == sum(len(SCENARIOS[i % len(SCENARIOS)][0]) for i in range(30))
    assert writers.count(writer.name) == sum(
        1 for i in range(30) if SCENARIOS[i % len(SCENARIOS)][1] == "llm"
    )

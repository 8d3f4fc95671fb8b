"""The grounding check reads numbers and names as a person would, and matches them to the stats."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from tests.unit.test_offline_writer import WEEK, build_stats, generated_weeks
from weekly_wrapped.insights.grounding import check_story, mentions
from weekly_wrapped.insights.history import History, PastTrack
from weekly_wrapped.insights.models import Entry, ListeningStats, Recommendation, Story
from weekly_wrapped.insights.writers import OfflineWriter
from weekly_wrapped.insights.writers.llm import StoryDraft, review
from weekly_wrapped.insights.writers.prompts import PROMPT_VERSION, facts_json, story_prompt


def _stats(**fields: Any) -> ListeningStats:
    base = build_stats(random.Random(11), user_id=42, week_start=WEEK, shape_name="plain")
    known = {
        "minutes_listened": 725.0, "streams": 1234, "skips": 87, "peak_hour": 21,
        "top_artist_share": 0.423, "weekend_share": 0.285, "late_night_share": 0.05,
        "distinct_artists": 48, "streak_days": 9, "vs_last_week": None, "trend_4w": None,
        "top_artists": [Entry(name="Nova Lane", streams=40, minutes=181.4),
                        Entry(name="Room 101", streams=12, minutes=44.0)],
        "top_tracks": [Entry(name="Harbour Lights", artist="Nova Lane", streams=17, minutes=60.2)],
        "top_genres": [], "top_albums": [], "new_artists": [], "new_tracks": [],
        "rediscoveries": [], "on_repeat": None, "sessions": base.sessions.model_copy(
            update={"count": 14, "longest_minutes": 95.0}),
        "daily_minutes": [100.0, 100.0, 100.0, 100.0, 100.0, 100.0, 125.0],
        "heatmap": [[0.0] * 24 for _ in range(7)],
    }  # fmt: skip
    return base.model_copy(update={**known, **fields})


def _story(text: str, picks: list[Recommendation] | None = None) -> Story:
    return Story(headline="Your week", summary=text, mood="Calm.", highlights=[],
                 recommendations=picks or [], closing="See you next week.")  # fmt: skip


def _check(text: str, history: History | None = None) -> list[str]:
    return check_story(_story(text), _stats(), history or History()).problems


@pytest.mark.parametrize(
    "text",
    [
        "You listened to 725 minutes of music.",
        "That is about 12 hours.",
        "That is 12.1 hours, or about 700 minutes.",
        "You played 12 hours and 5 minutes in all.",
        "1,234 streams and 87 skips across 48 artists.",
        "Nova Lane took 42% of your time; 29% fell on the weekend.",
        "Your listening peaked at 9 pm, and 5% came between midnight and 5 am.",
        "Nova Lane was your #1 artist, Room 101 your 2nd.",
        "Your longest session ran 1 hour and 35 minutes.",
        "9 days in a row with music.",
        "Nova Lane led with 181.4 minutes, about 3 hours.",
        '"Harbour Lights" by Nova Lane was your song of the week.',
        "On Sunday 22 November you listened for 125 minutes.",
    ],
)
def test_true_numbers_pass(text: str) -> None:
    assert _check(text) == []


@pytest.mark.parametrize(
    ("text", "wrong"),
    [
        ("You listened to 726 minutes of music.", "726 minutes"),
        ("That is about 20 hours.", "about 20 hours"),
        ("That is 12.4 hours.", "12.4 hours"),
        ("Nova Lane took 43% of your time.", "43%"),
        ("Your listening peaked at 10 pm.", "10 pm"),
        ("You streamed 1,235 songs.", "1,235"),
        ("You beat 98.7% of listeners.", "98.7%"),
        ("Thirteen artists were new to you.", "Thirteen"),
        ("On 17 December you played the most.", "17 December"),
        ("You listened 3 times as much as your friends.", "3"),
    ],
)
def test_false_numbers_fail(text: str, wrong: str) -> None:
    problems = _check(text)
    assert len(problems) == 1 and repr(wrong) in problems[0], problems


def test_names_must_come_from_the_stats_or_history() -> None:
    history = History(favourites_gone_quiet=[PastTrack(track="Paper Kites", artist="Cass Quill",
                      streams=7, last_played=WEEK.replace(month=3))])  # fmt: skip
    assert _check('You also loved "Paper Kites" by Cass Quill in spring.', history) == []
    problems = _check('"Midnight City" by M83 was on repeat.')
    assert problems == [
        "summary: '\"Midnight City\"' is not in the listening stats or history",
        "summary: 'M83' is not in the listening stats or history",
    ]


def test_a_number_inside_a_name_is_not_read_as_a_number() -> None:
    assert _check("Room 101 had 44 minutes.") == []
    assert sorted(m.text for m in mentions("Room 101 had 44 minutes.")) == ["101", "44 minutes"]


def test_picks_may_be_named_in_their_own_reasons() -> None:
    pick = Recommendation(artist="Golden Foxes", track="Paper Orbit",
                          why='"Paper Orbit" by Golden Foxes suits a 9 pm peak.')  # fmt: skip
    assert check_story(_story("Fine.", [pick]), _stats(), History()).passed


def test_every_problem_says_where_it_is() -> None:
    story = _story("Fine.").model_copy(update={"highlights": ["Fine.", "You hit 999 streams."]})
    result = check_story(story, _stats(), History())
    assert not result.passed
    assert result.problems == ["highlights[1]: '999' is not a value of the stats"]


def test_every_offline_story_passes_the_check() -> None:
    for stats, history in generated_weeks(330):
        result = check_story(OfflineWriter().write(stats, history), stats, history)
        assert result.passed, result.problems


def test_an_answer_that_is_not_the_story_is_reviewed_with_reasons() -> None:
    broken, result = review('{"headline": "Hi', _stats(), History())
    assert broken is None and "not valid JSON" in result.problems[0]
    draft = json.dumps({"headline": "Hi", "summary": "word " * 130, "mood": "Calm.",
                        "highlights": [], "closing": "Bye.", "recommendations": [
                            {"artist": "A", "track": "B", "why": "C"}] * 3})  # fmt: skip
    story, result = review(draft, _stats(), History())
    assert story is not None and result.problems == ["summary: 130 words, more than 120"]


def test_the_draft_schema_asks_for_the_story_fields() -> None:
    assert set(StoryDraft.model_fields) == set(Story.model_fields)
    schema = json.dumps(StoryDraft.model_json_schema())
    assert "spotify_url" not in schema and "verified" not in schema


def test_the_prompt_carries_the_stats_and_nothing_personal() -> None:
    stats = _stats()
    prompt = story_prompt(stats, "German", "dry and witty")
    sent = prompt.system + prompt.turns[0].text
    assert "German" in sent and "dry and witty" in sent
    assert json.dumps(facts_json(stats), ensure_ascii=False, separators=(",", ":")) in sent
    assert set(facts_json(stats)) == set(stats.model_dump()) - {"user_id", "timezone", "heatmap"}
    assert "Europe/Berlin" not in sent and "user_id" not in sent
    assert PROMPT_VERSION == "story-v1"

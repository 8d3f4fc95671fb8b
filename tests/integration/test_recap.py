"""The recap service and `wrapped recap`, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from tests.factories import play
from weekly_wrapped.cli import app
from weekly_wrapped.config import get_settings
from weekly_wrapped.errors import TransientError, UnknownUser
from weekly_wrapped.events import PlayEvent
from weekly_wrapped.insights.history import History
from weekly_wrapped.insights.models import ListeningStats, Story
from weekly_wrapped.insights.recap import build_recap, load_recap
from weekly_wrapped.insights.writers import OfflineWriter
from weekly_wrapped.processing.embedded import EmbeddedProcessor
from weekly_wrapped.warehouse import users
from weekly_wrapped.warehouse.schema import recap as recap_table
from weekly_wrapped.weeks import InvalidWeek, last_complete_week

WEEK = date(2026, 11, 16)  # Monday of 2026-W47
WEDNESDAY = datetime(2026, 11, 18, 18, 0, tzinfo=UTC)
LONG_AGO = datetime(2026, 3, 10, 18, 0, tzinfo=UTC)
NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
TRICKY = "<Bad & Co>"


def listening(user: int) -> list[PlayEvent]:
    """8 plays of 200 s this week (26.7 minutes), and favourites from March."""
    week = [
        *(play(user, WEDNESDAY + timedelta(minutes=4 * i)) for i in range(5)),
        *(play(user, WEDNESDAY + timedelta(hours=2, minutes=4 * i), artist=TRICKY,
                title="Tape <Hiss>") for i in range(3)),
    ]  # fmt: skip
    favourites = [
        play(user, LONG_AGO + timedelta(hours=i), artist="Cass Quill", title="Paper Kites")
        for i in range(7)
    ]
    return [*week, *favourites]


def add_listener(engine: Engine, timezone: str = "Europe/Berlin") -> int:
    with engine.begin() as conn:
        user = users.add_user(conn, name="Ada", timezone=timezone)
    EmbeddedProcessor(engine).process(listening(user))
    return user


def recap_rows(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(recap_table)).scalar_one())


# --- the service ------------------------------------------------------------------------


def test_a_recap_stores_stats_story_and_writer(engine: Engine) -> None:
    user = add_listener(engine)
    built = build_recap(engine, user, WEEK, OfflineWriter(), now=NOW)
    assert built.week == "2026-W47"
    assert built.stats.minutes_listened == 26.7
    assert built.stats.plays == 8
    assert built.writer == "offline"
    with engine.connect() as conn:
        stored = load_recap(conn, user, WEEK)
        row = conn.execute(select(recap_table)).one()
    assert stored is not None
    assert (stored.stats, stored.story) == (built.stats, built.story)
    assert (row.writer, row.model) == ("offline", None)
    assert row.stats["minutes_listened"] == 26.7
    assert row.story["headline"] == built.story.headline
    assert stored.created_at == NOW


def test_building_a_week_again_replaces_its_row(engine: Engine) -> None:
    user = add_listener(engine)
    first = build_recap(engine, user, WEEK, OfflineWriter(), now=NOW)
    EmbeddedProcessor(engine).process([play(user, WEDNESDAY + timedelta(days=2))])
    later = NOW + timedelta(hours=1)
    again = build_recap(engine, user, WEEK, OfflineWriter(), now=later)
    assert recap_rows(engine) == 1
    with engine.connect() as conn:
        stored = load_recap(conn, user, WEEK)
    assert stored is not None
    assert stored.created_at == later
    assert stored.stats.plays == first.stats.plays + 1 == again.stats.plays


def test_the_default_week_is_the_last_complete_one_in_the_users_timezone(engine: Engine) -> None:
    sunday_noon_utc = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)  # Monday 01:00 in Auckland
    auckland = add_listener(engine, "Pacific/Auckland")
    with engine.begin() as conn:
        london = users.add_user(conn, name="Grace", timezone="Europe/London")
    assert (
        build_recap(engine, auckland, None, OfflineWriter(), now=sunday_noon_utc).week == "2026-W47"
    )
    assert (
        build_recap(engine, london, None, OfflineWriter(), now=sunday_noon_utc).week == "2026-W46"
    )


def test_a_week_without_plays_gets_a_kind_recap(engine: Engine) -> None:
    user = add_listener(engine)
    built = build_recap(engine, user, WEEK - timedelta(weeks=10), OfflineWriter(), now=NOW)
    assert built.stats.plays == 0
    assert "no music" in built.story.summary.lower()
    assert recap_rows(engine) == 1


def test_picks_are_old_favourites_never_this_weeks_songs(engine: Engine) -> None:
    user = add_listener(engine)
    picks = build_recap(engine, user, WEEK, OfflineWriter(), now=NOW).story.recommendations
    assert [(p.track, p.artist) for p in picks] == [("Paper Kites", "Cass Quill")]
    assert "March" in picks[0].why
    assert not picks[0].verified


def test_a_recap_can_run_inside_the_callers_transaction(engine: Engine) -> None:
    user = add_listener(engine)
    with engine.begin() as conn:
        build_recap(conn, user, WEEK, OfflineWriter(), now=NOW)
        assert load_recap(conn, user, WEEK) is not None
    assert recap_rows(engine) == 1


class FailingWriter:
    name = "flaky"
    model = "flaky-1"

    def write(self, stats: ListeningStats, history: History) -> Story:
        raise TransientError("the model timed out")


def test_a_failing_writer_falls_back_to_the_offline_writer(engine: Engine) -> None:
    user = add_listener(engine)
    built = build_recap(engine, user, WEEK, FailingWriter(), now=NOW)
    offline = build_recap(engine, user, WEEK, OfflineWriter(), now=NOW)
    assert (built.writer, built.model) == ("offline", None)
    assert built.story == offline.story


def test_an_unknown_user_is_a_clear_error(engine: Engine) -> None:
    with pytest.raises(UnknownUser, match="no user with id 999"):
        build_recap(engine, 999, WEEK, OfflineWriter(), now=NOW)


# --- the command ------------------------------------------------------------------------


@pytest.fixture
def wrapped(engine: Engine, tmp_path: Path) -> Iterator[CliRunnerCall]:
    env = {
        "WRAPPED_DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "WRAPPED_DATA_DIR": str(tmp_path / "data"),
    }
    get_settings.cache_clear()
    yield CliRunnerCall(env)
    get_settings.cache_clear()


class CliRunnerCall:
    """Runs `wrapped …` in-process against the test warehouse."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.runner = CliRunner()

    def __call__(self, *args: str) -> str:
        result = self.runner.invoke(app, list(args), env=self.env, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.stdout

    def error(self, *args: str) -> BaseException:
        result = self.runner.invoke(app, list(args), env=self.env)
        assert result.exception is not None, result.output
        return result.exception


def test_recap_json_prints_week_user_stats_and_story(
    engine: Engine, wrapped: CliRunnerCall
) -> None:
    user = add_listener(engine)
    printed = json.loads(wrapped("recap", "--user", str(user), "--week", "2026-W47",
                                 "--format", "json"))  # fmt: skip
    assert printed["week"] == "2026-W47"
    assert printed["user"] == {"id": user, "name": "Ada", "timezone": "Europe/Berlin"}
    assert printed["stats"]["minutes_listened"] == 26.7
    assert [a["name"] for a in printed["stats"]["top_artists"]] == ["Nova Lane", TRICKY]
    assert set(printed["story"]) == set(Story.model_fields)
    assert recap_rows(engine) == 1


def test_recap_defaults_to_the_last_complete_week(engine: Engine, wrapped: CliRunnerCall) -> None:
    user = add_listener(engine, "Pacific/Auckland")
    printed = json.loads(wrapped("recap", "--user", str(user), "--format", "json"))
    monday = last_complete_week("Pacific/Auckland")
    assert printed["stats"]["period_start"] == monday.isoformat()


def test_recap_text_reads_as_a_terminal_recap(engine: Engine, wrapped: CliRunnerCall) -> None:
    user = add_listener(engine)
    shown = wrapped("recap", "--user", str(user), "--week", "2026-W47")
    with engine.connect() as conn:
        stored = load_recap(conn, user, WEEK)
    assert stored is not None
    for expected in (stored.story.headline, "Minutes per day", "Top artists", "Top tracks",
                     "When you listened", TRICKY, "Tape <Hiss>", "Paper Kites", "█"):  # fmt: skip
        assert expected in shown, expected


def test_recap_html_writes_a_standalone_escaped_page(
    engine: Engine, wrapped: CliRunnerCall, tmp_path: Path
) -> None:
    user = add_listener(engine)
    printed = wrapped("recap", "--user", str(user), "--week", "2026-W47", "--format", "html")
    page_path = Path(printed.strip())
    assert page_path == tmp_path / "data" / "recaps" / f"recap-{user}-2026-W47.html"
    page = page_path.read_text(encoding="utf-8")
    assert page.startswith("<!doctype html>")
    assert "prefers-color-scheme: dark" in page and "<style>" in page
    assert "&lt;Bad &amp; Co&gt;" in page and TRICKY not in page
    assert "Tape &lt;Hiss&gt;" in page
    for external in ("<link", "<script", "src=", "@import", "url("):
        assert external not in page, external


def test_recap_html_goes_where_output_says(
    engine: Engine, wrapped: CliRunnerCall, tmp_path: Path
) -> None:
    user = add_listener(engine)
    target = tmp_path / "elsewhere" / "week.html"
    printed = wrapped("recap", "--user", str(user), "--week", "2026-W47", "--format", "html",
                      "--output", str(target))  # fmt: skip
    assert Path(printed.strip()) == target
    assert "Minutes per day" in target.read_text(encoding="utf-8")


def test_recap_of_an_unknown_user_or_a_malformed_week_fails_clearly(
    engine: Engine, wrapped: CliRunnerCall
) -> None:
    user = add_listener(engine)
    unknown = wrapped.error("recap", "--user", "999")
    assert isinstance(unknown, UnknownUser) and "no user with id 999" in str(unknown)
    for week, message in (("2026-47", "not an ISO week"), ("2026-W54", "has no week 54")):
        malformed = wrapped.error("recap", "--user", str(user), "--week", week)
        assert isinstance(malformed, InvalidWeek) and message in str(malformed)
    assert recap_rows(engine) == 0


def test_a_person_sees_one_line_and_a_hint_not_a_traceback(tmp_path: Path) -> None:
    env = {**os.environ, "WRAPPED_DATA_DIR": str(tmp_path), "COLUMNS": "120"}
    env.pop("WRAPPED_DATABASE_URL", None)
    result = subprocess.run(
        [sys.executable, "-m", "weekly_wrapped.cli", "recap", "--user", "1", "--week", "2026-W99"],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "error: 2026 has no week 99",
        "hint: Write weeks as ISO weeks, for example 2026-W47.",
    ]

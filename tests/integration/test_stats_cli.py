"""`wrapped stats` as a person runs it: an inclusive range of days, JSON or a table."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine

from tests.cli import run_wrapped, warehouse_env
from tests.factories import play
from weekly_wrapped.insights.models import ListeningStats
from weekly_wrapped.processing.embedded import EmbeddedProcessor
from weekly_wrapped.warehouse import users


def wrapped(engine: Engine, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_wrapped(*args, env=warehouse_env(engine, tmp_path))


def listener(engine: Engine) -> str:
    with engine.begin() as conn:
        user = users.add_user(conn, name="Ada", timezone="Europe/Berlin")
    EmbeddedProcessor(engine).process(
        [
            play(
                user,
                datetime(2026, 8, 31, 21, 59, tzinfo=UTC),
                ms_played=60_000,
                title="[blue] Monday",
            ),
            play(user, datetime(2026, 8, 31, 22, 0, tzinfo=UTC), ms_played=120_000),  # 1 Sep
            play(user, datetime(2026, 9, 30, 21, 59, tzinfo=UTC), ms_played=180_000),  # 30 Sep
            play(user, datetime(2026, 9, 30, 22, 0, tzinfo=UTC), ms_played=240_000),  # 1 Oct
        ]
    )
    return str(user)


def test_json_covers_the_days_from_and_to_inclusive(engine: Engine, tmp_path: Path) -> None:
    user = listener(engine)
    result = wrapped(
        engine, tmp_path, "stats", "-u", user, "--from", "2026-09-01", "--to", "2026-09-30",
        "--format", "json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr

    printed = json.loads(result.stdout)
    assert list(printed) == list(ListeningStats.model_fields)
    assert (printed["period_start"], printed["period_end"]) == ("2026-09-01", "2026-10-01")
    assert (printed["plays"], printed["minutes_listened"]) == (2, 5.0)
    assert printed["week"] is None and printed["trend_4w"] is None


def test_the_table_reads_as_a_summary(engine: Engine, tmp_path: Path) -> None:
    user = listener(engine)
    result = wrapped(engine, tmp_path, "stats", "-u", user, "--from", "2026-08-01")

    assert result.returncode == 0, result.stderr
    assert "10.0 minutes · 4 streams · 0 skips · 1 artists · 2 songs" in result.stdout
    assert "Harbour Lights" in result.stdout
    assert "[blue] Monday" in result.stdout, "names are shown as written, never read as markup"
    quiet = wrapped(
        engine, tmp_path, "stats", "-u", user, "--from", "2026-02-01", "--to", "2026-02-28"
    )
    assert "No listening in this period." in quiet.stdout


def test_bad_ranges_and_users_are_one_line_errors(engine: Engine, tmp_path: Path) -> None:
    user = listener(engine)
    backwards = wrapped(
        engine, tmp_path, "stats", "-u", user, "--from", "2026-09-30", "--to", "2026-09-01"
    )
    nobody = wrapped(engine, tmp_path, "stats", "-u", "999")

    assert backwards.returncode == 1
    assert backwards.stderr.startswith("error: --to 2026-09-01 comes before --from 2026-09-30")
    assert nobody.returncode == 1 and "no user with id 999" in nobody.stderr
    assert "Traceback" not in backwards.stderr + nobody.stderr

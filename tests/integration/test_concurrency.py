"""Commands at the same time: a long import, a recap, a second import, a kill -9, a held lock."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from tests.cli import WRAPPED, run_wrapped, warehouse_env
from tests.factories import extended_row, play
from tests.factories import snapshot as rows_of
from weekly_wrapped.imports import ImportSummary, _Loader, import_export
from weekly_wrapped.processing.embedded import EmbeddedProcessor
from weekly_wrapped.warehouse import import_jobs, users
from weekly_wrapped.warehouse.schema import (
    dim_track,
    fact_play,
    fact_play_merged,
    import_job,
    quarantine,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "exports"
EXPORT = FIXTURES / "my_spotify_data"
RECAP_WEEK = "2024-W10"


def add_user(engine: Engine, name: str = "Ada") -> int:
    with engine.begin() as conn:
        return users.add_user(conn, name=name, timezone="Europe/Berlin")


def history(rows: int) -> list[dict[str, Any]]:
    """An extended streaming history of 2015, by bands no other test plays."""
    at = datetime(2015, 1, 1, tzinfo=UTC)
    found = []
    for i in range(rows):
        at += timedelta(seconds=200 + i * 7 % 300)
        found.append(
            extended_row(
                at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                30_000 + i * 37 % 200_000,
                title=f"Song {i % 5000}",
                artist=f"Band {i % 700}",
                album=f"Album {i % 900}",
                conn_country="SE",
            )
        )
    return found


@pytest.fixture(scope="module")
def large_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One 16,000-row history file: long enough to be caught in the middle of its import."""
    folder = tmp_path_factory.mktemp("large")
    (folder / "Streaming_History_Audio_2015_0.json").write_text(json.dumps(history(16_000)))
    return folder


@pytest.fixture(scope="module")
def medium_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 6,000-row history file."""
    folder = tmp_path_factory.mktemp("medium")
    (folder / "Streaming_History_Audio_2015_0.json").write_text(json.dumps(history(6_000)))
    return folder


def start_import(
    engine: Engine, tmp_path: Path, paths: list[Path], user: int, commit_rows: int
) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        **warehouse_env(engine, tmp_path),
        "WRAPPED_IMPORT_COMMIT_ROWS": str(commit_rows),
    }
    return subprocess.Popen(
        [*WRAPPED, "import", *map(str, paths), "--user", str(user)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def job_progress(engine: Engine) -> tuple[str, int] | None:
    """The newest import job's status and rows read so far."""
    with engine.connect() as conn:
        row = conn.execute(
            select(import_job.c.status, import_job.c.rows_read).order_by(import_job.c.job_id.desc())
        ).first()
    return None if row is None else (row.status, int(row.rows_read))


def wait_for(condition: Callable[[], bool], importer: subprocess.Popen[str]) -> None:
    """Poll until `condition` holds, while the import runs."""
    deadline = time.monotonic() + 120
    while not condition():
        assert importer.poll() is None, importer.communicate()
        assert time.monotonic() < deadline, "the import never got there"
        time.sleep(0.05)


def one_line(stderr: str) -> str:
    """The only line a failed command printed, with no traceback."""
    assert "Traceback" not in stderr
    (line,) = stderr.strip().splitlines()
    return " ".join(line.split())


def snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    return rows_of(engine, (dim_track, fact_play, fact_play_merged))


def job_totals(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [
            tuple(row)
            for row in conn.execute(
                select(
                    import_job.c.status,
                    import_job.c.rows_read,
                    import_job.c.plays_added,
                    import_job.c.duplicates,
                    import_job.c.skipped,
                ).order_by(import_job.c.job_id)
            )
        ]


def count(engine: Engine, table: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


# --- busy beyond the timeout --------------------------------------------------------------


@contextmanager
def write_lock_held(engine: Engine) -> Iterator[None]:
    """Another process holds the SQLite warehouse's write lock."""
    holder = sqlite3.connect(str(engine.url.database), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_a_command_kept_waiting_past_the_busy_timeout_exits_75_with_one_line(
    database_factory: Callable[[str], Engine], tmp_path: Path
) -> None:
    engine = database_factory("sqlite")
    user = str(add_user(engine))
    env = {**warehouse_env(engine, tmp_path), "WRAPPED_DATABASE_BUSY_TIMEOUT_S": "0.5"}
    with write_lock_held(engine):
        reader = run_wrapped("stats", "--user", user, env=env)
        assert reader.returncode == 0, "readers never wait"
        for command in (
            ["users", "add", "--name", "Bo"],
            ["import", str(EXPORT), "--user", user],
            ["recap", "--user", user, "--week", RECAP_WEEK],
        ):
            result = run_wrapped(*command, env=env)
            assert result.returncode == 75, (command, result.stderr)
            assert one_line(result.stderr) == (
                "error: the database stayed locked by another command past the busy timeout; "
                "this command can be retried: run it again in a moment"
            )
    assert run_wrapped("import", str(EXPORT), "--user", user, env=env).returncode == 0


# --- a recap while a large file imports ------------------------------------------------------


def test_a_recap_while_a_large_file_imports_answers_or_exits_75_with_one_line(
    backend: str, database_factory: Callable[[str], Engine], tmp_path: Path, large_export: Path
) -> None:
    engine = database_factory(backend)
    user = add_user(engine)
    monday = datetime(2024, 3, 4, 9, tzinfo=UTC)
    EmbeddedProcessor(engine).process(
        [play(user, monday + timedelta(hours=h), title=f"Tune {h % 4}") for h in range(40)]
    )
    env = warehouse_env(engine, tmp_path)
    recap = ["recap", "--user", str(user), "--week", RECAP_WEEK, "--format", "json"]
    before = run_wrapped(*recap, env=env)
    assert before.returncode == 0, before.stderr
    expected = json.loads(before.stdout)

    importer = start_import(engine, tmp_path, [large_export], user, commit_rows=2000)
    wait_for(lambda: (job_progress(engine) or ("", 0))[1] > 0, importer)
    during = []
    while importer.poll() is None and len(during) < 3:
        result = run_wrapped(*recap, env=env)
        during.append((result, importer.poll() is None))
        if result.returncode == 0:
            answer = json.loads(result.stdout)
            assert (answer["stats"], answer["story"]) == (expected["stats"], expected["story"])
        else:
            assert result.returncode == 75, result.stderr
            assert "can be retried" in one_line(result.stderr)
    out, err = importer.communicate(timeout=300)
    assert importer.returncode == 0, err
    assert any(still_importing for _, still_importing in during), "no recap ran mid-import"
    assert count(engine, fact_play) == 40 + 16_000


# --- two imports of one user ----------------------------------------------------------------


def test_a_second_import_of_the_same_user_at_the_same_time_exits_75(
    backend: str, database_factory: Callable[[str], Engine], tmp_path: Path, large_export: Path
) -> None:
    engine = database_factory(backend)
    ada, bo = add_user(engine), add_user(engine, "Bo")
    env = warehouse_env(engine, tmp_path)
    first = start_import(engine, tmp_path, [large_export], ada, commit_rows=2000)
    wait_for(lambda: job_progress(engine) is not None, first)
    second = run_wrapped("import", str(large_export), "--user", str(ada), env=env)
    assert second.returncode == 75, second.stderr
    assert one_line(second.stderr) == (
        f"error: an import for this user is running (user {ada}): try again when it has finished"
    )
    other_user = run_wrapped("import", str(EXPORT), "--user", str(bo), env=env)
    assert other_user.returncode == 0, other_user.stderr
    out, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    assert job_totals(engine)[0] == ("done", 16_000, 16_000, 0, {}), "one job, counted once"
    assert [status for status, *_ in job_totals(engine)] == ["done", "done"]


# --- killed, then taken over ------------------------------------------------------------------


def test_a_killed_import_is_taken_over_by_the_next_run_and_finishes_exactly(
    backend: str, database_factory: Callable[[str], Engine], tmp_path: Path, medium_export: Path
) -> None:
    clean = database_factory(backend)
    expected = import_export(clean, add_user(clean), [medium_export, EXPORT])

    engine = database_factory(backend)
    user = add_user(engine)
    importer = start_import(engine, tmp_path, [medium_export, EXPORT], user, commit_rows=500)
    wait_for(lambda: (job_progress(engine) or ("", 0))[1] >= 1000, importer)
    importer.kill()
    importer.wait()
    status, rows_read = job_progress(engine) or ("", 0)
    assert status == "running" and 1000 <= rows_read < 6000, "killed mid-file"

    rerun = run_wrapped(
        "import", str(medium_export), str(EXPORT), "--user", str(user),
        env=warehouse_env(engine, tmp_path),
    )  # fmt: skip
    assert rerun.returncode == 0, rerun.stderr
    assert "(finishing an interrupted import)" in rerun.stdout
    assert f"plays added {expected.plays_added:,}" in " ".join(rerun.stdout.split())
    assert snapshot(engine) == snapshot(clean)
    assert job_totals(engine) == job_totals(clean)


def test_a_job_left_running_by_a_killed_import_of_other_files_is_set_aside(
    engine: Engine,
) -> None:
    user = add_user(engine)
    with engine.begin() as conn:  # as a killed process left it
        orphan, _ = import_jobs.resume_or_start(conn, user, "/elsewhere/export.zip")
    summary = import_export(engine, user, [EXPORT])
    with engine.connect() as conn:
        jobs = conn.execute(
            select(import_job.c.job_id, import_job.c.status, import_job.c.error)
        ).all()
    assert [tuple(j) for j in jobs] == [
        (orphan.job_id, "partial", import_jobs.INTERRUPTED),
        (summary.job_id, "done", None),
    ]


# --- committed in batches, resumed after any of them --------------------------------------


ODD_ROWS = [
    {"ts": "0001-01-01T00:00:00Z", "ms_played": 1000, "master_metadata_track_name": "Old",
     "master_metadata_album_artist_name": "Nobody"},
    {"ms_played": 1000, "master_metadata_track_name": "No time",
     "master_metadata_album_artist_name": "Nobody"},
]  # fmt: skip


@pytest.fixture
def export_with_odd_rows(tmp_path: Path) -> Path:
    """The fixture export, and a file with rows that go to quarantine between good ones."""
    folder = tmp_path / "export"
    folder.mkdir()
    rows = history(150)
    for at in (10, 70, 140):
        rows[at:at] = ODD_ROWS
    (folder / "Streaming_History_Audio_2015_0.json").write_text(json.dumps(rows))
    return folder


def _totals(summary: ImportSummary) -> tuple[Any, ...]:
    return (
        summary.rows_read, summary.plays_added, summary.duplicates, summary.merged,
        summary.skipped, summary.first_played, summary.last_played, summary.years,
    )  # fmt: skip


@pytest.mark.parametrize("crash_at", [2, 5, 9, 14, 22])
def test_an_import_killed_after_any_batch_resumes_exactly_where_it_stopped(
    backend: str,
    database_factory: Callable[[str], Engine],
    monkeypatch: pytest.MonkeyPatch,
    export_with_odd_rows: Path,
    crash_at: int,
) -> None:
    paths = [export_with_odd_rows, EXPORT]
    options: dict[str, Any] = {"batch_size": 16, "commit_rows": 40}
    clean = database_factory(backend)
    expected = import_export(clean, add_user(clean), paths, **options)

    engine = database_factory(backend)
    user = add_user(engine)
    write, calls = _Loader._write, []

    def crash(self: _Loader, *args: Any) -> None:
        calls.append(args)
        if len(calls) == crash_at:
            raise KeyboardInterrupt
        write(self, *args)

    monkeypatch.setattr(_Loader, "_write", crash)
    with pytest.raises(KeyboardInterrupt):
        import_export(engine, user, paths, **options)
    monkeypatch.setattr(_Loader, "_write", write)
    if crash_at > 3:  # the first commit comes after three writes of 16, 16 and 8 rows
        assert 0 < (job_progress(engine) or ("", 0))[1] < expected.rows_read

    finished = import_export(engine, user, paths, **options)
    assert finished.resumed
    assert _totals(finished) == _totals(expected)
    assert snapshot(engine) == snapshot(clean)
    assert job_totals(engine) == job_totals(clean)
    # The damaged rows, each kept once however often the import ran over them.
    assert count(engine, quarantine) == count(clean, quarantine) == 4

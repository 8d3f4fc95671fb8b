"""`wrapped import` as a person runs it: a summary at the end, one-line errors, exit codes."""

from __future__ import annotations

import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine

from tests.cli import run_wrapped, warehouse_env
from weekly_wrapped.warehouse import users

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "exports"


def wrapped(args: list[str], engine: Engine, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return run_wrapped(*args, env=warehouse_env(engine, tmp_path))


def test_an_import_ends_with_a_summary_and_a_second_one_adds_nothing(
    backend: str, database_factory: Callable[[str], Engine], tmp_path: Path
) -> None:
    engine = database_factory(backend)
    with engine.begin() as conn:
        user = users.add_user(conn, name="Ada", timezone="Europe/Berlin")
    first = wrapped(
        ["import", str(FIXTURES / "my_spotify_data"), "--user", str(user)], engine, tmp_path
    )
    assert first.returncode == 0, first.stderr
    lines = [" ".join(line.split()) for line in first.stdout.splitlines()]
    assert "Imported 5 of 5 history files · job 1" in lines
    assert "Plays from 2022-11-02 to 2023-08-18" in lines
    assert "rows read 326" in lines
    assert "plays added 192" in lines
    assert "merged 130 the same plays from another source" in lines
    assert "4 null metadata: no track, episode or audiobook named" in lines
    assert any(line.startswith("│ 2023 │ 143 │") for line in lines)
    again = wrapped(
        ["import", str(FIXTURES / "my_spotify_data"), "--user", str(user)], engine, tmp_path
    )
    assert "plays added 0" in [" ".join(line.split()) for line in again.stdout.splitlines()]


def test_a_damaged_file_is_one_clear_error_and_the_exit_code_says_so(
    backend: str, database_factory: Callable[[str], Engine], tmp_path: Path
) -> None:
    engine = database_factory(backend)
    with engine.begin() as conn:
        user = users.add_user(conn, name="Ada")
    result = wrapped(
        ["import", str(FIXTURES / "damaged_export"), "-u", str(user)], engine, tmp_path
    )
    assert result.returncode == 1
    assert "Imported 1 of 2 history files" in result.stdout
    error = " ".join(result.stderr.split())
    assert "error: Streaming_History_Audio_2021_1.json is not valid JSON at byte 7,448" in error
    assert "hint: The file is damaged or incomplete" in error
    assert "Traceback" not in result.stderr


def test_an_unknown_user_or_a_missing_path_is_refused_plainly(
    backend: str, database_factory: Callable[[str], Engine], tmp_path: Path
) -> None:
    engine = database_factory(backend)
    missing = wrapped(["import", str(FIXTURES / "my_spotify_data"), "-u", "42"], engine, tmp_path)
    assert missing.returncode == 1
    assert "error: no user with id 42" in missing.stderr
    with engine.begin() as conn:
        user = users.add_user(conn, name="Ada")
    nowhere = wrapped(["import", str(tmp_path / "nope.zip"), "-u", str(user)], engine, tmp_path)
    assert nowhere.returncode == 1
    assert "nope.zip does not exist" in nowhere.stderr and "Traceback" not in nowhere.stderr


def test_a_zip_inside_the_zip_is_named_as_skipped_and_the_limits_are_settings(
    backend: str, database_factory: Callable[[str], Engine], tmp_path: Path
) -> None:
    engine = database_factory(backend)
    with engine.begin() as conn:
        user = users.add_user(conn, name="Ada")
    archive = tmp_path / "my_spotify_data.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for path in sorted((FIXTURES / "older_export").rglob("*.json")):
            z.write(path, f"my_spotify_data/{path.name}")
        z.writestr(
            "my_spotify_data/Spotify Extended Streaming History.zip", b"PK\x05\x06" + bytes(18)
        )
    result = wrapped(["import", str(archive), "-u", str(user)], engine, tmp_path)
    assert result.returncode == 0, result.stderr
    lines = [" ".join(line.split()) for line in result.stdout.splitlines()]
    assert (
        "Skipped, not read: my_spotify_data.zip:my_spotify_data/Spotify Extended Streaming "
        "History.zip (a zip inside the archive is not opened; unpack it and import that zip too)"
    ) in lines
    refused = run_wrapped(
        "import", str(archive), "-u", str(user),
        env=warehouse_env(engine, tmp_path) | {"WRAPPED_IMPORT_MAX_ARCHIVE_ENTRIES": "2"},
    )  # fmt: skip
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "more than the 2 allowed (WRAPPED_IMPORT_MAX_ARCHIVE_ENTRIES)" in refused.stderr

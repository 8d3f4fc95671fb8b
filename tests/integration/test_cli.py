"""The `wrapped` command as a person runs it: real processes, real exit codes, one-line errors."""

from __future__ import annotations

import json
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from tests.cli import run_wrapped, warehouse_env
from weekly_wrapped.config import load_settings
from weekly_wrapped.keys import secret_key
from weekly_wrapped.warehouse import db
from weekly_wrapped.weeks import last_complete_week, week_label


def run(args: list[str], env: dict[str, str], ok: bool = True) -> subprocess.CompletedProcess[str]:
    result = run_wrapped(*args, env=env)
    if ok:
        assert result.returncode == 0, result.stderr
    return result


@pytest.fixture
def sqlite_env(tmp_path: Path) -> dict[str, str]:
    return {"WRAPPED_DATA_DIR": str(tmp_path / "data")}


def test_a_first_run_from_init_to_a_weekly_summary(
    backend: str, database_factory: Callable[[str], Engine], tmp_path: Path
) -> None:
    engine = database_factory(backend)
    env = warehouse_env(engine, tmp_path)
    assert "Warehouse ready" in run(["init"], env).stdout
    user = run(["users", "add", "--name", "Ada", "--timezone", "Pacific/Auckland"], env).stdout
    assert user.strip().isdigit()
    listed = json.loads(run(["users", "list", "--format", "json"], env).stdout)
    assert listed == [
        {
            "id": int(user),
            "name": "Ada",
            "email": None,
            "timezone": "Pacific/Auckland",
            "weekly_email": True,
            "auth_status": "none",
        }
    ]
    generated = run(["generate", "--user", user.strip(), "--weeks", "3", "--seed", "5"], env)
    assert "quarantined" in generated.stdout
    again = run(["generate", "--user", user.strip(), "--weeks", "3", "--seed", "5"], env)
    assert ": 0 new" in again.stdout, "generating the same listening twice adds nothing"
    summary = run(["summary", "--user", user.strip()], env).stdout
    assert "minutes" in summary and "top artists" in summary
    moved = run(["users", "update", "--user", user.strip(), "--timezone", "America/Lima"], env)
    assert "America/Lima" in moved.stdout
    assert "America/Lima" in run(["summary", "--user", user.strip()], env).stdout


@pytest.mark.parametrize(
    ("args", "message", "hint"),
    [
        (["summary", "--user", "1"], "is not initialised", "wrapped init"),
    ],
)
def test_commands_before_init_say_what_to_do(
    sqlite_env: dict[str, str], args: list[str], message: str, hint: str
) -> None:
    result = run(args, sqlite_env, ok=False)
    assert result.returncode == 1
    assert message in result.stderr and hint in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["users", "add", "--name", "B", "--timezone", "Mars/Olympus"],
            "unknown timezone 'Mars/Olympus'",
        ),
        (["users", "add", "--name", "B", "--email", "nope"], "not an email address: 'nope'"),
        (["summary", "--user", "99"], "no user with id 99"),
        (["summary", "--user", "1", "--week", "2026-47"], "not an ISO week: '2026-47'"),
        (["summary", "--user", "1", "--week", "2026-W54"], "2026 has no week 54"),
        (["generate", "--user", "99"], "no user with id 99"),
    ],
)
def test_bad_input_gives_one_clear_line_and_no_traceback(
    sqlite_env: dict[str, str], args: list[str], message: str
) -> None:
    run(["init"], sqlite_env)
    run(["users", "add", "--name", "Ada"], sqlite_env)
    result = run(args, sqlite_env, ok=False)
    assert result.returncode == 1
    assert result.stderr.startswith(f"error: {message}"), result.stderr
    assert "Traceback" not in result.stderr


def test_a_bad_setting_names_its_variable(sqlite_env: dict[str, str]) -> None:
    result = run(["init"], {**sqlite_env, "WRAPPED_BATCH_SIZE": "lots"}, ok=False)
    assert result.returncode == 1
    assert "WRAPPED_BATCH_SIZE" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("args", [["init"], ["users", "list"], ["poll"]])
def test_a_secret_key_that_is_not_a_fernet_key_stops_any_command_before_any_work(
    tmp_path: Path, args: list[str]
) -> None:
    data = tmp_path / "data"
    env = {"WRAPPED_DATA_DIR": str(data), "WRAPPED_SECRET_KEY": "my-secret-passphrase"}
    result = run(args, env, ok=False)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.splitlines() == [
        "error: WRAPPED_SECRET_KEY is not a Fernet key (32 url-safe base64-encoded bytes)",
        'hint: Make one with: python -c "from cryptography.fernet import Fernet; '
        'print(Fernet.generate_key().decode())"',
    ]
    assert "my-secret-passphrase" not in result.stderr
    assert not data.exists(), "nothing was done: no warehouse, no key file"


def test_help_works_even_with_a_bad_setting(tmp_path: Path) -> None:
    env = {"WRAPPED_DATA_DIR": str(tmp_path), "WRAPPED_SECRET_KEY": "my-secret-passphrase"}
    assert "users list [OPTIONS]" in run(["users", "list", "--help"], env).stdout


def sent_week(env: dict[str, str]) -> str:
    """A user with an address and two weeks of listening: the week `wrapped send` will send."""
    run(["init"], env)
    user = run(["users", "add", "--name", "Ada", "--email", "ada@example.com"], env).stdout.strip()
    run(["generate", "--user", user, "--weeks", "2", "--seed", "5"], env)
    return week_label(last_complete_week("UTC"))


def test_logging_is_quiet_by_default_and_json_lines_on_request(
    sqlite_env: dict[str, str],
) -> None:
    week = sent_week(sqlite_env)
    quiet = run(["send", "--week", week, "--resend"], sqlite_env)
    assert quiet.stderr == "", "WARNING by default: a command's own report is enough"

    secret = "app-password-123"  # noqa: S105
    verbose = {"WRAPPED_LOG_LEVEL": "INFO", "WRAPPED_SMTP_PASSWORD": secret}
    text = run(["send", "--week", week, "--resend"], sqlite_env | verbose)
    assert "INFO weekly_wrapped.delivery.mailer: delivered recap for user 1 to " in text.stderr

    logged = run(["send", "--week", week, "--resend"],
                 sqlite_env | verbose | {"WRAPPED_LOG_FORMAT": "json"})  # fmt: skip
    lines = [json.loads(line) for line in logged.stderr.splitlines()]
    assert lines and all({"time", "level", "logger", "message"} <= line.keys() for line in lines)
    [delivered] = [line for line in lines if line["message"].startswith("delivered recap")]
    assert (delivered["level"], delivered["logger"]) == ("INFO", "weekly_wrapped.delivery.mailer")
    assert delivered["time"].endswith("+00:00")
    assert secret not in text.stderr + logged.stderr


def test_an_unreachable_database_is_a_transient_error(tmp_path: Path) -> None:
    env = {"WRAPPED_DATABASE_URL": "postgresql://nobody@127.0.0.1:9/none"}
    result = run(["init"], env, ok=False)
    assert result.returncode == 75
    assert result.stderr.startswith("error: cannot reach the database")


def test_the_data_folder_and_the_database_are_private_to_their_user(tmp_path: Path) -> None:
    data = tmp_path / "state" / "wrapped"
    run(["init"], {"WRAPPED_DATA_DIR": str(data)})
    run(["users", "add", "--name", "Ada"], {"WRAPPED_DATA_DIR": str(data)})
    secret_key(load_settings(data_dir=data))
    engine = db.connect(f"sqlite:///{data / 'wrapped.db'}")
    with engine.connect() as conn:  # while open, SQLite keeps its -wal and -shm files
        conn.execute(text("SELECT count(*) FROM dim_user")).scalar_one()
        modes = {
            p.name: stat.S_IMODE(p.stat().st_mode) for p in [data.parent, data, *data.iterdir()]
        }
    engine.dispose()
    assert modes == {
        "state": 0o700, "wrapped": 0o700, "secret.key": 0o600,
        "wrapped.db": 0o600, "wrapped.db-wal": 0o600, "wrapped.db-shm": 0o600,
    }  # fmt: skip
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    run(["init"], {"WRAPPED_DATA_DIR": str(shared)})
    assert stat.S_IMODE(shared.stat().st_mode) == 0o755, "a folder that was there keeps its mode"
    assert stat.S_IMODE((shared / "wrapped.db").stat().st_mode) == 0o600

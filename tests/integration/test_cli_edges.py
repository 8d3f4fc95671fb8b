"""Hostile and odd values on the command line: one line and no traceback, and nothing that
could steer the terminal ever reaches it."""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, update

from tests.cli import run_wrapped, warehouse_env
from tests.factories import play
from weekly_wrapped.cli import main
from weekly_wrapped.config import get_settings
from weekly_wrapped.processing.embedded import EmbeddedProcessor
from weekly_wrapped.warehouse.schema import dim_user
from weekly_wrapped.warehouse.users import add_user

CLEAR_SCREEN = "\x1b[2J"
FAKE_LINK = "\x1b]8;;https://evil.example/\x1b\\Click me\x1b]8;;\x1b\\"
MARKUP_LINK = "[link=https://evil.example/]me[/link]"


@dataclass(frozen=True)
class Ran:
    code: int
    stdout: str
    stderr: str


class Wrapped:
    """`wrapped ARGS` in this process, through the same `main` a person's shell runs."""

    def __init__(self, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
        self.capsys, self.monkeypatch = capsys, monkeypatch

    def __call__(self, *args: str) -> Ran:
        get_settings.cache_clear()
        self.monkeypatch.setattr(sys, "argv", ["wrapped", *args])
        code = 0
        try:
            main()
        except SystemExit as exit:
            code = exit.code if isinstance(exit.code, int) else 1
        finally:
            get_settings.cache_clear()
        captured = self.capsys.readouterr()
        return Ran(code, captured.out, captured.err)


@pytest.fixture
def wrapped(
    engine: Engine,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> Wrapped:
    for name, value in warehouse_env(engine, tmp_path).items():
        monkeypatch.setenv(name, value)
    with engine.begin() as conn:
        add_user(conn, name="Ada", email="ada@example.com")
    return Wrapped(capsys, monkeypatch)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["summary", "--user", "1", "--week", "9999-W52"], "week 9999-W52 is outside 2006–2100"),
        (["summary", "--user", "1", "--week", "0001-W01"], "week 0001-W01 is outside 2006–2100"),
        (["recap", "--user", "1", "--week", "9999-W52"], "week 9999-W52 is outside 2006–2100"),
        (["send", "--week", "0001-W01"], "week 0001-W01 is outside 2006–2100"),
        (["stats", "-u", "1", "--from", "0001-01-01"], "--from 0001-01-01 is outside 2006–2100"),
        (["stats", "-u", "1", "--to", "9999-12-31"], "--to 9999-12-31 is outside 2006–2100"),
        (["stats", "-u", "1", "--to", "2026-02-30"], "--to: not a day: '2026-02-30'"),
        (["stats", "--user", "99999999999999999999"], "no user with id 99999999999999999999"),
        (["summary", "--user", "-1"], "no user with id -1"),
        (["recap", "--user", "2147483648"], "no user with id 2147483648"),
        (["poll", "--user", "99999999999999999999"], "no user with id 99999999999999999999"),
        (["enrich", "--user", "1e3"], "not a user id: '1e3'"),
        (
            ["users", "add", "--name", "B", "--email", "b\x1b[2J@example.com"],
            "not an email address: 'b\\x1b[2J@example.com' (it has control characters)",
        ),
        (["users", "add", "--name", "\x1b\x07\r\n"], "a user needs a name"),
        (["users", "update", "--user", "1", "--name", "\x9b\x00"], "a user needs a name"),
        (["users", "add", "--name", "x" * 201], "a name has at most 200 characters, this one 201"),
    ],
)
def test_values_at_the_edges_give_one_line_and_no_traceback(
    wrapped: Wrapped, args: list[str], message: str
) -> None:
    result = wrapped(*args)
    assert result.code == 1, result
    assert result.stderr.startswith(f"error: {message}\n"), result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.splitlines()) <= 2, "one line, and a hint at most"


def test_weeks_and_days_inside_the_bounds_still_work(wrapped: Wrapped) -> None:
    assert wrapped("summary", "--user", "1", "--week", "2006-W01").code == 0
    assert wrapped("summary", "--user", "1", "--week", "2100-W52").code == 0
    assert wrapped("stats", "-u", "1", "--from", "2006-01-01", "--to", "2100-12-31").code == 0


def test_control_characters_never_reach_a_stored_name(wrapped: Wrapped) -> None:
    added = wrapped("users", "add", "--name", "Eve\r\nBcc: x@y.z", "--email", "eve@example.com")
    assert added.code == 0, added.stderr
    wrapped("users", "add", "--name", f"{CLEAR_SCREEN}Bo\x9b\x00")
    renamed = wrapped("users", "update", "--user", added.stdout.strip(), "--name", "Eve\tAdams\x85")
    assert renamed.code == 0, renamed.stderr

    listed = json.loads(wrapped("users", "list", "--format", "json").stdout)
    assert [person["name"] for person in listed] == ["Ada", "Eve Adams", "[2JBo"]


def osc8_targets(output: str) -> list[str]:
    """Where the terminal hyperlinks in `output` lead."""
    return re.findall(r"\x1b\]8;[^;]*;([^\x1b\x07]+)", output)


def test_names_never_steer_the_terminal(engine: Engine, tmp_path: Path) -> None:
    with engine.begin() as conn:
        user = add_user(conn, name="Eve", timezone="UTC")
        # Stored before names were checked on the way in.
        conn.execute(update(dim_user).values(display_name=f"Eve{CLEAR_SCREEN}\x9b31m{MARKUP_LINK}"))
    monday = datetime(2026, 11, 16, 9, tzinfo=UTC)
    EmbeddedProcessor(engine).process(
        [
            play(user, monday.replace(hour=hour), artist=FAKE_LINK, title=f"Clear{CLEAR_SCREEN}Me")
            for hour in range(9, 14)
        ]
        + [play(user, monday.replace(day=10), title=f"Old {MARKUP_LINK}", artist="\x07Bell")]
    )
    env = warehouse_env(engine, tmp_path) | {"FORCE_COLOR": "1", "TERM": "xterm-256color"}
    shown = {
        command[0]: run_wrapped(*command, env=env)
        for command in (
            ("recap", "--user", str(user), "--week", "2026-W47"),
            ("stats", "--user", str(user), "--from", "2026-11-01", "--to", "2026-11-30"),
            ("users", "list"),
            ("summary", "--user", str(user), "--week", "2026-W47"),
        )
    }
    for command, result in shown.items():
        assert result.returncode == 0, result.stderr
        output = result.stdout
        assert "\x1b[31m" in output or "\x1b[1m" in output, "our own styles still show"
        assert CLEAR_SCREEN not in output, command
        assert not [c for c in output if "\x80" <= c <= "\x9f" or c == "\x07"], command
        assert [url for url in osc8_targets(output) if "evil" in url] == [], command
    assert "Click me" in shown["recap"].stdout and "Clear[2JMe" in shown["stats"].stdout
    assert MARKUP_LINK in shown["users"].stdout, "a name is shown as written, never as markup"

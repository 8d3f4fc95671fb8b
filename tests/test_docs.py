"""Docs as tests: the CLI reference and `.env.example` stay in step with the code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from typer.main import get_command

from weekly_wrapped.cli import app
from weekly_wrapped.config import env_example

ROOT = Path(__file__).resolve().parents[1]


def cli_reference() -> str:
    return subprocess.run(
        [sys.executable, "-m", "typer", "weekly_wrapped.cli", "utils", "docs", "--name", "wrapped"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def test_the_cli_reference_is_current() -> None:
    assert (ROOT / "docs" / "cli.md").read_text() == cli_reference(), "run `make docs`"


def test_every_command_has_help() -> None:
    def walk(command: object, path: str) -> list[str]:
        missing = [] if getattr(command, "help", None) else [path]
        for name, sub in getattr(command, "commands", {}).items():
            missing += walk(sub, f"{path} {name}")
        return missing

    assert walk(get_command(app), "wrapped") == []


def test_env_example_lists_every_setting() -> None:
    assert (ROOT / ".env.example").read_text() == env_example(), "run `make docs`"

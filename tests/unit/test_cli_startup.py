"""`wrapped --help` starts fast: help loads no database, HTTP, chart or template library."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from typer.main import get_command

from weekly_wrapped.cli import app
from weekly_wrapped.warehouse import db

HEAVY = (
    "alembic",
    "cryptography",
    "jinja2",
    "matplotlib",
    "numpy",
    "orjson",
    "psycopg",
    "requests",
    "spotipy",
    "sqlalchemy",
)
"""Libraries only some commands need, each costing a noticeable share of a second to import."""

PROBE = """
import json, sys
from weekly_wrapped.cli import main

paths, listing = json.loads(sys.argv[1]), sys.argv[2]
for args in paths:
    sys.argv = ["wrapped", *args]
    try:
        main()
    except SystemExit as exit:
        assert exit.code in (0, None), (args, exit.code)
with open(listing, "w") as found:
    json.dump(sorted(sys.modules), found)
"""
"""Run each command line given, as `wrapped` does, then list what got imported."""


def command_paths() -> list[list[str]]:
    """Every command and group of `wrapped`, as the words that name it."""

    def walk(command: object, path: list[str]) -> list[list[str]]:
        paths = [path]
        for name, sub in getattr(command, "commands", {}).items():
            paths += walk(sub, [*path, name])
        return paths

    return walk(get_command(app), [])


def modules_after(
    command_lines: list[list[str]], tmp_path: Path, env: Mapping[str, str] | None = None
) -> set[str]:
    listing = tmp_path / "modules.json"
    probe = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(command_lines), str(listing)],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        check=False,
    )
    assert probe.returncode == 0, probe.stderr
    return set(json.loads(listing.read_text()))


def heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in HEAVY)


def test_help_imports_no_heavy_library(tmp_path: Path) -> None:
    modules = modules_after([["--help"]], tmp_path)
    assert "typer" in modules
    assert heavy(modules) == []


def test_no_command_help_imports_a_heavy_library(tmp_path: Path) -> None:
    paths = command_paths()
    assert ["users", "list"] in paths and ["import"] in paths
    assert heavy(modules_after([[*path, "--help"] for path in paths], tmp_path)) == []


def test_users_list_loads_the_database_but_not_the_migrations(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'wrapped.db'}"
    db.upgrade(db.connect(url))
    env = {"WRAPPED_DATA_DIR": str(tmp_path), "WRAPPED_DATABASE_URL": url}
    modules = modules_after([["users", "list"]], tmp_path, env)
    assert "sqlalchemy" in modules
    assert "alembic" not in modules


def test_the_revision_commands_expect_is_the_one_init_migrates_to(tmp_path: Path) -> None:
    engine = db.connect(f"sqlite:///{tmp_path / 'wrapped.db'}")
    assert db.shipped_revision() == db.head_revision(engine) == db.upgrade(engine)
    assert db.current_revision(engine) == db.shipped_revision()

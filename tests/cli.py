"""Run the `wrapped` command as a person does: a new process, real exit codes and output."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from sqlalchemy import Engine

WRAPPED = [sys.executable, "-m", "weekly_wrapped.cli"]


def run_wrapped(
    *args: str, env: Mapping[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """`wrapped ARGS` with `env` on top of this process's environment and a wide terminal."""
    return subprocess.run(
        [*WRAPPED, *args],
        env={**os.environ, "COLUMNS": "120", **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def warehouse_env(engine: Engine, data_dir: Path) -> dict[str, str]:
    """The settings that point `wrapped` at a test's warehouse and data folder."""
    return {
        "WRAPPED_DATA_DIR": str(data_dir),
        "WRAPPED_DATABASE_URL": engine.url.render_as_string(hide_password=False),
    }

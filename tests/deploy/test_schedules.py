"""The other ways to schedule: crontab, systemd timers and Kubernetes CronJobs.

Each runs real `wrapped` commands: the crontab's lines are valid five-field entries,
the systemd units pass `systemd-analyze verify` (pointed at this venv's `wrapped`),
and the CronJobs run the image's user and take their secrets from a Secret only.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.main import get_command

from weekly_wrapped.cli import app

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
CRON_FIELD = re.compile(r"^(\*|\d+(-\d+)?)(/\d+)?(,(\d+(-\d+)?)(/\d+)?)*$")


def commands() -> set[str]:
    return set(getattr(get_command(app), "commands", {}))


def wrapped_command(line: str) -> str:
    found = re.search(r"\bwrapped (\w+)", line)
    assert found, f"no wrapped command in {line!r}"
    return found[1]


def test_the_crontab_runs_real_commands_at_valid_times() -> None:
    entries = [
        line
        for line in (DEPLOY / "cron" / "weekly-wrapped.crontab").read_text().splitlines()
        if line.strip() and not line.startswith("#") and not re.match(r"^[A-Z_]+=", line)
    ]
    assert {wrapped_command(line) for line in entries} == {"poll", "send"}
    for line in entries:
        fields = line.split()[:5]
        assert all(CRON_FIELD.match(f) for f in fields), line
    assert {wrapped_command(line) for line in entries} <= commands()


def systemd_verify(
    folder: Path, replace: tuple[str, str] = ("", "")
) -> subprocess.CompletedProcess[str]:
    """`systemd-analyze verify` of copies of the units, run by this venv's `wrapped`."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.fail("systemd-analyze not found: apt-get install systemd (.ci/run does)")
    wrapped = Path(sys.executable).with_name("wrapped")
    for unit in (DEPLOY / "systemd").iterdir():
        text = unit.read_text().replace("/opt/weekly-wrapped/.venv/bin/wrapped", str(wrapped))
        (folder / unit.name).write_text(text.replace(*replace))
    return subprocess.run(
        [analyze, "verify", "--man=no", *sorted(str(u) for u in folder.iterdir())],
        capture_output=True, text=True, timeout=60, check=False,
        env={"SYSTEMD_LOG_LEVEL": "err", "PATH": "/usr/bin:/bin"},
    )  # fmt: skip


def test_the_systemd_units_verify(tmp_path: Path) -> None:
    units = sorted((DEPLOY / "systemd").iterdir())
    assert {u.name for u in units} == {
        f"weekly-wrapped-{job}.{kind}" for job in ("poll", "send") for kind in ("service", "timer")
    }
    for unit in units:
        if unit.suffix == ".service":
            [exec_start] = re.findall(r"^ExecStart=(.*)$", unit.read_text(), re.MULTILINE)
            assert wrapped_command(exec_start) in commands()
    done = systemd_verify(tmp_path)
    assert done.returncode == 0, done.stderr


def test_systemd_refuses_a_timer_that_never_fires(tmp_path: Path) -> None:
    done = systemd_verify(tmp_path, ("08:05:00", "25:05:00"))
    assert done.returncode != 0
    assert "weekly-wrapped-send.timer" in done.stderr


def cronjobs() -> list[dict[str, Any]]:
    return list(yaml.safe_load_all((DEPLOY / "k8s" / "cronjob.yaml").read_text()))


def test_the_cronjobs_run_the_cli_as_the_image_user_with_secrets_from_a_secret() -> None:
    jobs = cronjobs()
    assert [(j["apiVersion"], j["kind"]) for j in jobs] == [("batch/v1", "CronJob")] * 2
    uid = re.search(r"^USER (\d+)", (ROOT / "Dockerfile").read_text(), re.MULTILINE)
    assert uid is not None
    ran = set()
    for job in jobs:
        spec = job["spec"]
        assert len(spec["schedule"].split()) == 5
        assert spec["concurrencyPolicy"] == "Forbid"
        pod = spec["jobTemplate"]["spec"]["template"]["spec"]
        assert pod["restartPolicy"] == "Never"
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] == int(uid[1])
        [container] = pod["containers"]
        assert container["args"][0] == "wrapped"
        ran.add(container["args"][1])
        assert "env" not in container, "settings come from the Secret"
        assert container["envFrom"] == [{"secretRef": {"name": "weekly-wrapped"}}]
        mounted = {m["name"] for m in container["volumeMounts"]}
        assert mounted == {v["name"] for v in pod["volumes"]}
    assert ran == {"poll", "send"} and ran <= commands()

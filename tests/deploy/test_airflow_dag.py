"""The Airflow DAG loads in Airflow's own DagBag, and its weekly task sends a recap once.

Airflow lives in a virtualenv of its own (`scripts/airflow-venv`, made once under
.cache/: minutes the first time, `.ci/run` makes it before the tests). The test
prepares a SQLite warehouse here with the `wrapped` command, then runs
tests/deploy/airflow_check.py there: the DagBag must have no import errors and the
tasks, retries and deadlines the DAG promises, and the weekly DAG's task callables,
called as Airflow calls them, must email the due recap to the outbox, once.
"""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, date, datetime, timedelta
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from tests.cli import run_wrapped
from weekly_wrapped.warehouse import db
from weekly_wrapped.warehouse.schema import delivery, dim_user
from weekly_wrapped.weeks import week_label

ROOT = Path(__file__).resolve().parents[2]
DAGS = ROOT / "deploy" / "airflow"
CHECK = Path(__file__).with_name("airflow_check.py")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def airflow_python() -> str:
    """The virtualenv's python, made first if missing (scripts/airflow-venv)."""
    made = subprocess.run(
        [str(ROOT / "scripts" / "airflow-venv")],
        capture_output=True, text=True, timeout=1500, check=False,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr[-3000:]
    return made.stdout.strip()


def airflow_check(python: str, tmp_path: Path, *args: str, **env: str) -> dict[str, Any]:
    home = tmp_path / "airflow-home"
    home.mkdir(exist_ok=True)
    done = subprocess.run(
        [python, str(CHECK), str(DAGS), *args],
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith("WRAPPED_")},
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            **env,
        },
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


def test_the_dags_load_with_their_tasks_retries_and_deadlines(
    airflow_python: str, tmp_path: Path
) -> None:
    report = airflow_check(airflow_python, tmp_path)
    assert report["import_errors"] == {}
    dags = report["dags"]
    assert set(dags) == {"weekly_wrapped_poll", "weekly_wrapped_recaps"}
    poll, recaps = dags["weekly_wrapped_poll"], dags["weekly_wrapped_recaps"]
    assert set(poll["tasks"]) == {"poll"}
    assert "'0 * * * *'" in poll["schedule"]
    assert "'0 * * * 0-2'" in recaps["schedule"]  # hourly, Sunday to Tuesday UTC
    assert recaps["tasks"] == {
        "due_batches": {"mapped": False, "retries": 3, "upstream": []},
        "send_batch": {"mapped": True, "retries": 3, "upstream": ["due_batches"]},
    }
    assert poll["tasks"]["poll"]["retries"] == 3
    assert not poll["catchup"] and not recaps["catchup"]
    for dag in dags.values():
        [deadline] = dag["deadlines"]
        assert deadline["callback"] == "weekly_wrapped.scheduler.batches.deadline_missed"
        assert deadline["interval_s"] > 0


def test_the_weekly_task_sends_the_due_recap_once(airflow_python: str, tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {
        "WRAPPED_DATA_DIR": str(data),
        "WRAPPED_DATABASE_URL": f"sqlite:///{tmp_path / 'warehouse.db'}",
        "WRAPPED_EMAIL": "outbox",
        "WRAPPED_WRITER": "offline",
    }
    for args in (
        ("init",),
        ("users", "add", "--name", "Ada", "--email", "ada@example.com", "--timezone", "UTC"),
        ("users", "add", "--name", "Bo", "--timezone", "UTC"),
        ("generate", "--user", "1", "--weeks", "3", "--seed", "3"),
    ):
        done = run_wrapped(*args, env=env)
        assert done.returncode == 0, done.stderr
    engine = db.connect(env["WRAPPED_DATABASE_URL"])
    with engine.begin() as conn:  # joined a month ago, so last week's recap is due
        conn.execute(update(dim_user).values(created_at=datetime.now(UTC) - timedelta(days=30)))

    report = airflow_check(airflow_python, tmp_path, "--run", **env)

    [[[user, week]]] = report["batches"]  # Bo has no address: only Ada is due
    assert user == 1
    assert date.fromisoformat(week).weekday() == 0
    assert report["sent"] == [{"sent": 1}]
    assert report["sent_again"] == [{"skipped": 1}]
    eml = data / "outbox" / "1" / f"{week_label(date.fromisoformat(week))}.eml"
    message = BytesParser(policy=policy.default).parsebytes(eml.read_bytes())
    assert message["To"] == "Ada <ada@example.com>"
    with engine.connect() as conn:
        rows = conn.execute(select(delivery.c.user_key, delivery.c.status)).all()
    assert [(r.user_key, r.status) for r in rows] == [(1, "sent")]
    engine.dispose()

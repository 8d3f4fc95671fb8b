"""Bus, processor and optional extras, as the command line reports them: one line each."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli import run_wrapped

INSTALL_POSTGRES = "pip install 'weekly-wrapped[postgres]'"


def lines(stderr: str) -> list[str]:
    assert "Traceback" not in stderr
    return [" ".join(line.split()) for line in stderr.strip().splitlines()]


@pytest.fixture
def without_psycopg(tmp_path: Path) -> dict[str, str]:
    """An environment in which `import psycopg` fails, as when the extra is not installed."""
    blocked = tmp_path / "blocked"
    (blocked / "psycopg").mkdir(parents=True)
    (blocked / "psycopg" / "__init__.py").write_text(
        'raise ModuleNotFoundError("No module named \'psycopg\'", name="psycopg")\n'
    )
    return {"PYTHONPATH": str(blocked), "WRAPPED_DATA_DIR": str(tmp_path / "data")}


@pytest.mark.parametrize("command", [["init"], ["users", "list"]])
def test_a_postgresql_url_without_the_postgres_extra_is_one_line_with_the_pip_command(
    without_psycopg: dict[str, str], command: list[str]
) -> None:
    env = {**without_psycopg, "WRAPPED_DATABASE_URL": "postgresql://wrapped@127.0.0.1:1/wrapped"}
    result = run_wrapped(*command, env=env)
    assert result.returncode == 1
    assert lines(result.stderr) == [
        "error: a postgresql WRAPPED_DATABASE_URL needs psycopg, which is not installed: "
        + INSTALL_POSTGRES
    ]


def test_sqlite_needs_no_postgres_extra(without_psycopg: dict[str, str]) -> None:
    result = run_wrapped("init", env=without_psycopg)
    assert result.returncode == 0, result.stderr


def test_spark_with_the_local_bus_is_refused_when_settings_load(tmp_path: Path) -> None:
    env = {"WRAPPED_DATA_DIR": str(tmp_path), "WRAPPED_ENGINE": "spark"}
    result = run_wrapped("users", "list", env=env)
    assert result.returncode == 1
    assert lines(result.stderr)[0] == (
        "error: invalid settings: WRAPPED_ENGINE=spark needs WRAPPED_BUS=kafka "
        "(the Spark job reads its plays from Kafka), not WRAPPED_BUS=local"
    )


@pytest.mark.parametrize("engine", ["embedded", "spark"])
def test_kafka_unreachable_is_one_line_and_a_transient_exit(tmp_path: Path, engine: str) -> None:
    """Sources publish to Kafka whichever engine writes the plays afterwards."""
    env = {"WRAPPED_DATA_DIR": str(tmp_path)}
    assert run_wrapped("init", env=env).returncode == 0
    assert run_wrapped("users", "add", "--name", "Ada", env=env).returncode == 0
    env |= {
        "WRAPPED_BUS": "kafka",
        "WRAPPED_ENGINE": engine,
        "WRAPPED_KAFKA_BOOTSTRAP": "127.0.0.1:1",
    }
    result = run_wrapped("generate", "--user", "1", env=env, timeout=60)
    assert result.returncode == 75
    assert "error: no Kafka broker answered at 127.0.0.1:1" in result.stderr
    assert "Traceback" not in result.stderr


def test_process_with_the_local_bus_says_what_to_set(tmp_path: Path) -> None:
    env = {"WRAPPED_DATA_DIR": str(tmp_path)}
    assert run_wrapped("init", env=env).returncode == 0
    result = run_wrapped("process", "--until-idle", env=env)
    assert result.returncode == 1
    assert lines(result.stderr)[0] == (
        "error: `wrapped process` reads plays from Kafka, and WRAPPED_BUS=local"
    )

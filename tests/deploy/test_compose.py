"""The Compose stack, read by a real parser: Debian's `docker-compose` (v1.29), `config`.

`docker-compose config` loads the file the way `up` does: the schema of its file
format, the `${...}` values from the `.env` beside it, the `env_file`, the YAML
anchors. No Docker engine is needed for it. It reads this file as it is (the
Compose Specification's features used here, `service_completed_successfully`
included, are ones v1.29 knows), so no JSON-schema fallback is needed.

Beyond parsing, the tests check what the stack promises: every long-running service
has a health check, the one-shot `init` gates the rest, Kafka can run transactions
on one node, and no secret is written in the file.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE = DEPLOY / "docker-compose.yml"
THROWAWAY = "test-only-password"
"""The password the tests put in their copy of deploy/.env."""
SECRETISH = re.compile(r"PASSWORD|SECRET|API_KEY|TOKEN", re.IGNORECASE)


def docker_compose() -> str:
    found = shutil.which("docker-compose")
    if found is None:
        pytest.fail("docker-compose not found: apt-get install docker-compose (.ci/run does)")
    return found


def stage(tmp_path: Path, compose: str | None = None, **env: str) -> Path:
    """A copy of deploy/ whose .env is .env.example with `env` filled in."""
    folder = tmp_path / "deploy"
    folder.mkdir()
    (folder / "docker-compose.yml").write_text(compose or COMPOSE.read_text())
    lines = (DEPLOY / ".env.example").read_text().splitlines()
    for name, value in env.items():
        lines = [f"{name}={value}" if line.startswith(f"{name}=") else line for line in lines]
    (folder / ".env").write_text("\n".join(lines) + "\n")
    return folder


def compose_config(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [docker_compose(), "--project-directory", str(folder), "-f",
         str(folder / "docker-compose.yml"), "config", *args],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def resolved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The stack as `docker-compose config` resolves it, with a test password in .env."""
    folder = stage(tmp_path_factory.mktemp("compose"), POSTGRES_PASSWORD=THROWAWAY)
    done = compose_config(folder)
    assert done.returncode == 0, done.stderr
    config: dict[str, Any] = yaml.safe_load(done.stdout)
    return config


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return config


def test_docker_compose_accepts_the_file(tmp_path: Path) -> None:
    folder = stage(tmp_path, POSTGRES_PASSWORD=THROWAWAY)
    done = compose_config(folder, "-q")
    assert done.returncode == 0, done.stderr


def test_the_parser_refuses_a_broken_file(tmp_path: Path) -> None:
    """The check above can fail: a misspelt service option is an error."""
    broken = COMPOSE.read_text().replace("healthcheck:", "healthchek:", 1)
    done = compose_config(stage(tmp_path, broken, POSTGRES_PASSWORD=THROWAWAY), "-q")
    assert done.returncode != 0
    assert "healthchek" in done.stderr


def test_a_missing_password_stops_the_stack_with_its_name(tmp_path: Path) -> None:
    done = compose_config(stage(tmp_path), "-q")
    assert done.returncode != 0
    assert "set POSTGRES_PASSWORD in deploy/.env" in done.stderr


def test_the_stack_has_every_part(resolved: dict[str, Any]) -> None:
    services = resolved["services"]
    assert set(services) == {
        "kafka", "postgres", "spark-master", "spark-worker", "init", "stream", "app",
    }  # fmt: skip
    assert services["kafka"]["image"].startswith("apache/kafka:4.")
    assert services["spark-master"]["image"] == "apache/spark:4.2.0"
    assert services["app"]["command"][:2] == ["wrapped", "serve"]
    assert services["init"]["command"] == ["wrapped", "init"]
    assert services["stream"]["command"][0] == "wrapped-stream"


def test_spark_is_the_version_of_the_pinned_pyspark(resolved: dict[str, Any]) -> None:
    pinned = re.search(r'"pyspark==([\d.]+)"', (ROOT / "pyproject.toml").read_text())
    assert pinned is not None
    assert resolved["services"]["spark-master"]["image"] == f"apache/spark:{pinned[1]}"


def test_every_long_running_service_has_a_health_check(resolved: dict[str, Any]) -> None:
    """A one-shot service (restart "no") is awaited to completion instead of to health."""
    services = resolved["services"]
    awaited = {
        dependency
        for service in services.values()
        for dependency, wait in service.get("depends_on", {}).items()
        if wait == {"condition": "service_completed_successfully"}
    }
    for name, service in services.items():
        test = service.get("healthcheck", {}).get("test")
        if service.get("restart") == "no":
            assert name in awaited, f"nothing waits for the one-shot {name}"
            continue
        assert test and test != ["NONE"], f"{name} has no health check"
        assert service.get("restart") == "unless-stopped", name
    assert awaited == {"init"}


def test_init_runs_once_before_the_services_that_need_it(resolved: dict[str, Any]) -> None:
    services = resolved["services"]
    assert services["init"]["depends_on"] == {
        "postgres": {"condition": "service_healthy"},
        "kafka": {"condition": "service_healthy"},
    }
    for name in ("app", "stream"):
        assert services[name]["depends_on"]["init"] == {
            "condition": "service_completed_successfully"
        }
    assert services["stream"]["depends_on"]["spark-worker"] == {"condition": "service_healthy"}
    assert services["spark-worker"]["depends_on"]["spark-master"] == {
        "condition": "service_healthy"
    }


def test_kafka_runs_transactions_on_one_node(resolved: dict[str, Any]) -> None:
    env = resolved["services"]["kafka"]["environment"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    for name in (
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR",
    ):
        assert str(env[name]) == "1", name
    app = resolved["services"]["app"]["environment"]
    assert app["WRAPPED_KAFKA_BOOTSTRAP"] == env["KAFKA_ADVERTISED_LISTENERS"].split("//")[1]


def test_kafkas_own_storage_tool_formats_with_the_stacks_cluster_id(
    resolved: dict[str, Any], tmp_path: Path
) -> None:
    """The image formats its volume with CLUSTER_ID on first start; Kafka's StorageTool
    (the broker's jars from infra/jvm) must accept it, or the broker never starts."""
    jars = subprocess.run(
        [str(ROOT / "scripts" / "jvm-jars"), "kafka-broker"],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert jars.returncode == 0, jars.stderr
    cluster_id = str(resolved["services"]["kafka"]["environment"]["CLUSTER_ID"])
    properties = tmp_path / "server.properties"
    properties.write_text(
        "process.roles=broker,controller\nnode.id=1\n"
        "controller.quorum.voters=1@127.0.0.1:9093\ncontroller.listener.names=CONTROLLER\n"
        "listeners=PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093\n"
        f"log.dirs={tmp_path / 'data'}\n"
    )
    formatted = subprocess.run(
        ["java", "-cp", f"{jars.stdout.strip()}/*", "kafka.tools.StorageTool", "format",
         f"--cluster-id={cluster_id}", "-c", str(properties)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert formatted.returncode == 0, formatted.stdout + formatted.stderr
    meta = (tmp_path / "data" / "meta.properties").read_text()
    assert f"cluster.id={cluster_id}" in meta


def test_the_app_reaches_postgres_with_the_password_from_env(resolved: dict[str, Any]) -> None:
    url = resolved["services"]["app"]["environment"]["WRAPPED_DATABASE_URL"]
    assert url == f"postgresql://wrapped:{THROWAWAY}@postgres:5432/wrapped"


def test_no_secret_is_written_in_the_file(raw: dict[str, Any]) -> None:
    def settings(node: Any, path: str = "") -> list[tuple[str, str]]:
        if isinstance(node, dict):
            return [p for k, v in node.items() for p in settings(v, f"{path}.{k}")]
        if isinstance(node, list):
            return [p for i, v in enumerate(node) for p in settings(v, f"{path}[{i}]")]
        return [(path, str(node))]

    for path, value in settings(raw):
        if SECRETISH.search(path):
            assert re.fullmatch(r"\$\{[A-Z_]+(:\?[^}]*)?\}", value), f"{path} is written inline"
        assert not re.search(r"://[^:/@\s]+:(?!\$\{)[^@\s]+@", value), f"{path} has a password"


def mounts(service: dict[str, Any]) -> dict[str, str]:
    """The service's volumes as source → target (`config` writes them `source:target:mode`)."""
    pairs = (str(volume).split(":") for volume in service.get("volumes", []))
    return {parts[0]: parts[1] for parts in pairs}


def test_state_lives_in_named_volumes(resolved: dict[str, Any]) -> None:
    declared = set(resolved["volumes"])
    used: set[str] = set()
    for name, service in resolved["services"].items():
        for source in mounts(service):
            assert source in declared, f"{name} mounts {source}, not a named volume"
            used.add(source)
    assert used == declared == {"kafka-data", "postgres-data", "app-data", "spark-checkpoint"}
    services = resolved["services"]
    assert mounts(services["stream"]) == mounts(services["spark-worker"]), (
        "the executors write the job's state beside the driver's checkpoint"
    )
    assert mounts(services["init"]) == mounts(services["app"])


def test_the_env_file_is_documented_and_ignored(raw: dict[str, Any]) -> None:
    example = (DEPLOY / ".env.example").read_text()
    required = set(re.findall(r"\$\{([A-Z_]+)[:?}]", COMPOSE.read_text()))
    listed = set(re.findall(r"^#? ?([A-Z_]+)=", example, re.MULTILINE))
    assert required <= listed, f"undocumented: {sorted(required - listed)}"
    assert not re.search(r"^[A-Z_]*(PASSWORD|SECRET|API_KEY)=\S", example, re.MULTILINE)
    ignored = subprocess.run(["git", "check-ignore", "-q", "deploy/.env"], cwd=ROOT, check=False)
    assert ignored.returncode == 0, "deploy/.env must be git-ignored"

"""Shared fixtures: fresh warehouses on SQLite and on the real PostgreSQL of scripts/pg-start."""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.pool import NullPool

from weekly_wrapped import retry
from weekly_wrapped.warehouse import db

ROOT = Path(__file__).resolve().parents[1]
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def postgres_admin_url() -> str | None:
    """The server scripts/pg-start runs: from WRAPPED_TEST_PG_URL or `.pg/url`."""
    url = os.environ.get("WRAPPED_TEST_PG_URL")
    if url:
        return url
    state = ROOT / ".pg" / "url"
    return state.read_text().strip() if state.exists() else None


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get("CI") and postgres_admin_url() is None:
        raise pytest.UsageError(
            "CI=true but no PostgreSQL: start one with scripts/pg-start (make test does)"
        )


def _psycopg(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


class PostgresDatabases:
    """Clones a migrated template database, one fresh database per request."""

    def __init__(self, admin_url: str, worker: str) -> None:
        self.admin = create_engine(_psycopg(admin_url), isolation_level="AUTOCOMMIT")
        self.base = admin_url.rsplit("/", 1)[0]
        self.template = f"wrapped_template_{worker}_{uuid.uuid4().hex[:8]}"
        self.created: list[str] = []
        with self.admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {self.template} WITH (FORCE)"))
            conn.execute(text(f"CREATE DATABASE {self.template}"))
        template = db.connect(f"{self.base}/{self.template}", poolclass=NullPool)
        db.upgrade(template)
        template.dispose()

    def create(self) -> str:
        name = f"wrapped_test_{uuid.uuid4().hex[:12]}"
        with self.admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {name} TEMPLATE {self.template}"))
        self.created.append(name)
        return f"{self.base}/{name}"

    def drop_all(self) -> None:
        with self.admin.connect() as conn:
            for name in [*self.created, self.template]:
                conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        self.admin.dispose()


@pytest.fixture(scope="session")
def postgres_databases(worker_id: str) -> Iterator[PostgresDatabases]:
    url = postgres_admin_url()
    if url is None:
        pytest.skip("no PostgreSQL running: start one with scripts/pg-start")
    databases = PostgresDatabases(url, worker_id)
    yield databases
    databases.drop_all()


@pytest.fixture
def database_factory(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[[str], Engine]]:
    """Make fresh, migrated warehouses: ``database_factory("sqlite" | "postgresql")``."""
    engines: list[Engine] = []

    def make(backend: str) -> Engine:
        if backend == "sqlite":
            engine = db.connect(f"sqlite:///{tmp_path / f'wrapped-{len(engines)}.db'}")
            db.upgrade(engine)
        else:
            databases = request.getfixturevalue("postgres_databases")
            engine = db.connect(databases.create())
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        engine.dispose()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def engine(backend: str, database_factory: Callable[[str], Engine]) -> Engine:
    """A fresh, migrated warehouse on each backend."""
    return database_factory(backend)


@pytest.fixture(autouse=True)
def retry_waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The waits the retry policy asked for, recorded instead of slept: no test sleeps on one."""
    waits: list[float] = []
    monkeypatch.setattr(retry, "pause", waits.append)
    return waits


@pytest.fixture(autouse=True)
def logging_as_it_was() -> Iterator[None]:
    """Undo the logging set-up of a command run in this process (`wrapped` sets it up once)."""
    root, ours = logging.getLogger(), logging.getLogger("weekly_wrapped")
    handlers, levels = list(root.handlers), (root.level, ours.level)
    yield
    root.handlers[:] = handlers
    root.setLevel(levels[0])
    ours.setLevel(levels[1])

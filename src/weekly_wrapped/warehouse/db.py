"""The one door to the database engine: connect, tune per dialect, migrate."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError

from weekly_wrapped.errors import ConfigError, WarehouseError, WarehouseUnavailable
from weekly_wrapped.private_files import private_file


def connect(url: str, **kwargs: Any) -> Engine:
    """An engine for `url`; a SQLite file is created private to the user (0600), in WAL mode."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(f"WRAPPED_DATABASE_URL is not a database URL: {url!r}") from None
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            private_file(Path(parsed.database))  # SQLite gives its -wal and -shm files its mode
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _tune_sqlite)
        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.get_driver_name() != "psycopg":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return create_engine(parsed, pool_pre_ping=True, **kwargs)


def _tune_sqlite(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # Takes effect only when the file is new; big pages halve the cost of bulk inserts.
    cursor.execute("PRAGMA page_size=16384")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA temp_store=MEMORY")
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.close()


def _alembic_config(engine: Engine) -> Config:
    config = Config()
    location = resources.files("weekly_wrapped").joinpath("warehouse/migrations")
    config.set_main_option("script_location", str(location))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine) -> str:
    """Create or upgrade the warehouse to the newest schema; return the revision."""
    try:
        command.upgrade(_alembic_config(engine), "head")
    except OperationalError as exc:
        raise WarehouseUnavailable(f"cannot reach the database: {exc.orig}") from None
    return head_revision(engine)


def head_revision(engine: Engine) -> str:
    script = ScriptDirectory.from_config(_alembic_config(engine))
    head = script.get_current_head()
    assert head is not None  # noqa: S101 - the package ships its migrations
    return head


def current_revision(engine: Engine) -> str | None:
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    except OperationalError as exc:
        raise WarehouseUnavailable(f"cannot reach the database: {exc.orig}") from None


def require_current(engine: Engine) -> None:
    """Raise a clear error if the warehouse is missing or behind the code."""
    current = current_revision(engine)
    if current is None:
        raise WarehouseError(f"the warehouse at {engine.url!r} is not initialised")
    if current != head_revision(engine):
        raise WarehouseError(f"the warehouse is at revision {current}, the code expects newer")

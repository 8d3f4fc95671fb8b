"""The one door to the database engine: connect, tune per dialect, migrate.

SQLite lets one writer in at a time; the others wait up to the busy timeout. A
command that waits longer gets `WarehouseBusy`, a transient error: the CLI
prints it as one line and exits 75, and running the command again will do.
"""

from __future__ import annotations

import sqlite3
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, ExceptionContext, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError

from weekly_wrapped.errors import (
    ConfigError,
    TransientError,
    WarehouseError,
    WarehouseUnavailable,
)
from weekly_wrapped.extras import require
from weekly_wrapped.private_files import private_file

if TYPE_CHECKING:
    from alembic.config import Config

    from weekly_wrapped.config import Settings

BUSY_TIMEOUT_S = 10.0
"""How long a SQLite command waits for another one's write by default."""


class WarehouseBusy(TransientError):
    """Another command held the SQLite database for longer than the busy timeout."""


def connect(url: str, *, busy_timeout_s: float = BUSY_TIMEOUT_S, **kwargs: Any) -> Engine:
    """An engine for `url`; a SQLite file is created private to the user (0600), in WAL mode."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(f"WRAPPED_DATABASE_URL is not a database URL: {url!r}") from None
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            private_file(Path(parsed.database))  # SQLite gives its -wal and -shm files its mode
        return _sqlite_engine(url, round(busy_timeout_s * 1000), **kwargs)
    if parsed.get_backend_name() == "postgresql":
        require("postgres", "psycopg", needed_by="a postgresql WRAPPED_DATABASE_URL")
        parsed = parsed.set(drivername="postgresql+psycopg")
    return create_engine(parsed, pool_pre_ping=True, **kwargs)


def open_warehouse(settings: Settings, *, check: bool = True, **kwargs: Any) -> Engine:
    """The engine of the warehouse the settings name (`kwargs` size its pool); with
    `check`, a clear error if it is missing or behind the code (run `wrapped init`)."""
    engine = connect(settings.db_url, busy_timeout_s=settings.database_busy_timeout_s, **kwargs)
    if check:
        require_current(engine)
    return engine


def _sqlite_engine(url: str, busy_timeout_ms: int, **kwargs: Any) -> Engine:
    engine = create_engine(url, **kwargs)

    def tune(dbapi_connection: Any, _record: Any) -> None:
        _tune_sqlite(dbapi_connection, busy_timeout_ms)

    event.listen(engine, "connect", tune)
    event.listen(engine, "handle_error", _busy_is_transient)
    return engine


def _tune_sqlite(dbapi_connection: Any, busy_timeout_ms: int) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms:d}")  # first: the others may wait
    # Takes effect only when the file is new; big pages halve the cost of bulk inserts.
    cursor.execute("PRAGMA page_size=16384")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA temp_store=MEMORY")
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.close()


def _busy_is_transient(context: ExceptionContext) -> None:
    """SQLite's "database is locked" becomes `WarehouseBusy`, wherever it happens."""
    error = context.original_exception
    if not isinstance(error, sqlite3.OperationalError):
        return
    code = getattr(error, "sqlite_errorcode", 0) & 0xFF  # the primary code of BUSY_SNAPSHOT etc.
    if code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
        raise WarehouseBusy(
            "the database stayed locked by another command past the busy timeout; "
            "this command can be retried: run it again in a moment"
        ) from None


def _alembic_config(engine: Engine) -> Config:
    # Alembic is imported only to migrate: it takes longer to load than SQLAlchemy itself.
    from alembic.config import Config

    config = Config()
    location = resources.files("weekly_wrapped").joinpath("warehouse/migrations")
    config.set_main_option("script_location", str(location))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine) -> str:
    """Create or upgrade the warehouse to the newest schema; return the revision."""
    from alembic import command

    try:
        command.upgrade(_alembic_config(engine), "head")
    except OperationalError as exc:
        raise WarehouseUnavailable(f"cannot reach the database: {exc.orig}") from None
    return head_revision(engine)


def head_revision(engine: Engine) -> str:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(_alembic_config(engine))
    head = script.get_current_head()
    assert head is not None  # noqa: S101 - the package ships its migrations
    return head


def shipped_revision() -> str:
    """The newest migration's revision, read from its file name (`0009_….py`), without Alembic."""
    versions = resources.files("weekly_wrapped").joinpath("warehouse/migrations/versions")
    return max(file.name[:4] for file in versions.iterdir() if file.name[:4].isdigit())


def current_revision(engine: Engine) -> str | None:
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table("alembic_version"):
                return None
            revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
            return None if revision is None else str(revision)
    except OperationalError as exc:
        raise WarehouseUnavailable(f"cannot reach the database: {exc.orig}") from None


def require_current(engine: Engine) -> None:
    """Raise a clear error if the warehouse is missing or behind the code."""
    current = current_revision(engine)
    if current is None:
        raise WarehouseError(f"the warehouse at {engine.url!r} is not initialised")
    if current != shipped_revision():
        raise WarehouseError(f"the warehouse is at revision {current}, the code expects newer")

"""Insert-or-update and insert-if-absent of one row, by its key, in the dialect's own words.

SQLite and PostgreSQL both say ``INSERT … ON CONFLICT``; SQLAlchemy builds it per
dialect. The operational tables (the delivery ledger, the poller's state, tokens,
recaps) write one row at a time through these; bulk loads go through `writer`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite


def upsert(conn: Connection, table: Table, values: Mapping[str, Any], keys: Sequence[str]) -> None:
    """Insert a row, or update every other given column of the row with the same `keys`."""
    statement = _insert(conn, table).values(dict(values))
    changes = {name: statement.excluded[name] for name in values if name not in keys}
    conn.execute(statement.on_conflict_do_update(index_elements=list(keys), set_=changes))


def insert_if_absent(conn: Connection, table: Table, values: Mapping[str, Any]) -> bool:
    """Insert a row unless one with the same key exists; True when this call inserted it."""
    statement = _insert(conn, table).values(dict(values)).on_conflict_do_nothing()
    # SQLAlchemy reports an INSERT's row count only when asked (PostgreSQL says -1 otherwise).
    return conn.execute(statement.execution_options(preserve_rowcount=True)).rowcount == 1


def _insert(conn: Connection, table: Table) -> postgresql.Insert | sqlite.Insert:
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)

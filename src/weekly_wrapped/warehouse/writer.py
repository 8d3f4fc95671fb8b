"""Bulk, idempotent writes of transformed rows, one strategy per dialect (DESIGN §5).

- SQLite: ``executemany`` of ``INSERT … ON CONFLICT`` inside the caller's transaction.
- PostgreSQL: ``COPY`` into a temporary table, then ``INSERT … SELECT … ON CONFLICT``.

Dimensions are inserted when absent and fill their nulls when a later row knows
more; facts are inserted and conflicts ignored. Nothing is ever written row by row.
Plays that another source also reported move between `fact_play` and
`fact_play_merged` as `processing.dedupe` decides.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Connection,
    Date,
    DateTime,
    Integer,
    SmallInteger,
    String,
    Table,
    delete,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.types import TypeEngine

from weekly_wrapped.rows import PlayRow, Rejected, Rows
from weekly_wrapped.warehouse.schema import (
    bridge_track_artist,
    dim_album,
    dim_artist,
    dim_date,
    dim_spelling,
    dim_track,
    fact_play,
    fact_play_merged,
    quarantine,
)

# (table, conflict columns, columns whose nulls a later row may fill)
_DIMENSIONS: tuple[tuple[Table, tuple[str, ...], tuple[str, ...]], ...] = (
    (dim_date, ("date_key",), ()),
    (dim_album, ("album_key",), ("spotify_id", "release_date", "album_type", "image_url")),
    (dim_artist, ("artist_key",), ("spotify_id", "genres", "image_url")),
    (dim_track, ("track_key",), ("spotify_id", "duration_ms", "explicit", "isrc", "album_key")),
    (bridge_track_artist, ("track_key", "artist_key"), ()),
    (dim_spelling, ("spelling_key",), ()),
)
# Spellings that normalize to one key ("Heroes - 2017 Remaster", "Heroes") keep the
# smallest, so the stored name does not depend on which play arrived first.
_NAMED = {"dim_album", "dim_artist", "dim_track"}


@dataclass
class WriteResult:
    """What one batch did to the warehouse."""

    received: int = 0
    inserted: int = 0
    """New plays: how many more rows `fact_play` has."""
    duplicates: int = 0
    """Plays already in the warehouse under the same event id."""
    merged: int = 0
    """Plays another source had already reported (or now reports better): stored once."""
    quarantined: int = 0

    def __iadd__(self, other: WriteResult) -> WriteResult:
        self.received += other.received
        self.inserted += other.inserted
        self.duplicates += other.duplicates
        self.merged += other.merged
        self.quarantined += other.quarantined
        return self


def write_rows(conn: Connection, rows: Rows) -> WriteResult:
    """Write one batch inside the caller's transaction."""
    write_dimensions(conn, rows)
    inserted = write_plays(conn, rows.plays)
    write_quarantine(conn, rows.rejected, stage="processor")
    return WriteResult(
        received=len(rows.plays) + len(rows.rejected),
        inserted=inserted,
        duplicates=len(rows.plays) - inserted,
        quarantined=len(rows.rejected),
    )


def write_dimensions(conn: Connection, rows: Rows) -> None:
    """Insert the batch's dates, albums, artists, tracks and bridges; fill known nulls."""
    bulk = _BULK[conn.dialect.name]
    raw = conn.connection.driver_connection
    for table, conflict, fill in _DIMENSIONS:
        values = _values_of(rows, table)
        if values:
            bulk(raw, table, conflict, fill, values)


def write_plays(conn: Connection, plays: Sequence[PlayRow]) -> int:
    """Insert plays into `fact_play`, ignoring ones already there; return how many were new."""
    if not plays:
        return 0
    raw = conn.connection.driver_connection
    return _BULK[conn.dialect.name](raw, fact_play, ("play_id",), (), list(plays))


def write_merged(conn: Connection, merged: Sequence[tuple[PlayRow, str]]) -> None:
    """Keep plays as merged into the stored play whose id comes with each."""
    if merged:
        raw = conn.connection.driver_connection
        values = [(*play, merged_into) for play, merged_into in merged]
        _BULK[conn.dialect.name](raw, fact_play_merged, ("play_id",), (), values)


_IDS_PER_STATEMENT = 10_000
"""Well under SQLite's limit of 32,766 parameters a statement."""


def delete_plays(conn: Connection, table: Table, play_ids: Sequence[str]) -> int:
    """Remove plays by id from `fact_play` or `fact_play_merged`; return how many went."""
    removed = 0
    for start in range(0, len(play_ids), _IDS_PER_STATEMENT):
        chunk = list(play_ids[start : start + _IDS_PER_STATEMENT])
        removed += conn.execute(delete(table).where(table.c.play_id.in_(chunk))).rowcount
    return removed


QUARANTINE_PAYLOAD_BYTES = 64 << 10
"""A raw row longer than this is kept cut to it, with its whole size and hash."""


def write_quarantine(conn: Connection, rejected: Sequence[Rejected], *, stage: str) -> None:
    """Keep bad messages with their reason, once each however often they come; none is lost."""
    if not rejected:
        return
    now = datetime.now(UTC)
    rows = [
        {
            "received_at": now,
            "stage": stage,
            "reason": r.reason,
            "user_key": r.user_key,
            "event_id": r.event_id,
            **_kept_payload(r.payload),
        }
        for r in rejected
    ]
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    conn.execute(dialect.insert(quarantine).on_conflict_do_nothing(), rows)


def _kept_payload(payload: str) -> dict[str, Any]:
    """The payload as stored: its first 64 KiB (whole characters), whole size and hash."""
    raw = payload.encode("utf-8", errors="surrogatepass")
    kept = raw[:QUARANTINE_PAYLOAD_BYTES].decode("utf-8", errors="ignore")
    return {
        "payload": kept,
        "payload_bytes": len(raw),
        "payload_sha256": hashlib.sha256(raw).hexdigest(),
    }


def _values_of(rows: Rows, table: Table) -> list[tuple[Any, ...]]:
    by_table: dict[str, Any] = {
        "dim_date": rows.dates,
        "dim_album": rows.albums,
        "dim_artist": rows.artists,
        "dim_track": rows.tracks,
        "bridge_track_artist": rows.bridges,
        "dim_spelling": rows.spellings,
    }
    return list(by_table[table.name].values())


def _merge(table: str, fill: Sequence[str], excluded: str, collate: str) -> str:
    sets = [f"{c} = COALESCE({table}.{c}, {excluded}.{c})" for c in fill]
    when = [f"({table}.{c} IS NULL AND {excluded}.{c} IS NOT NULL)" for c in fill]
    if table in _NAMED:
        smaller = f"{excluded}.name{collate} < {table}.name{collate}"
        sets.append(f"name = CASE WHEN {smaller} THEN {excluded}.name ELSE {table}.name END")
        when.append(smaller)
    return f"DO UPDATE SET {', '.join(sets)} WHERE {' OR '.join(when)}"


def _on_conflict(
    table: Table, conflict: Sequence[str], fill: Sequence[str], excluded: str, collate: str = ""
) -> str:
    action = _merge(table.name, fill, excluded, collate) if fill else "DO NOTHING"
    return f"ON CONFLICT ({', '.join(conflict)}) {action}"


# --- SQLite ----------------------------------------------------------------------------


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, datetime):
        # SQLAlchemy's SQLite storage format: naive UTC with microseconds.
        naive = (value if value.tzinfo is UTC else value.astimezone(UTC)).replace(tzinfo=None)
        return naive.isoformat(" ", "microseconds")
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _sqlite_rows(table: Table, values: Sequence[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    convert = [i for i, c in enumerate(table.columns) if isinstance(c.type, DateTime | Date)]
    if not convert:
        return list(values)
    out = []
    for row in values:
        as_list = list(row)
        for i in convert:
            as_list[i] = _sqlite_value(as_list[i])
        out.append(tuple(as_list))
    return out


def _sqlite_bulk(
    raw: Any,
    table: Table,
    conflict: Sequence[str],
    fill: Sequence[str],
    values: Sequence[tuple[Any, ...]],
) -> int:
    columns = [c.name for c in table.columns]
    sql = (
        f"INSERT INTO {table.name} ({', '.join(columns)}) "
        f"VALUES ({', '.join('?' * len(columns))}) "
        + _on_conflict(table, conflict, fill, "excluded")
    )
    # In key order: each insert lands next to the last in the key's B-tree, so the pages
    # it touches stay in cache however big the table grows (play ids are random hashes).
    ordered = sorted(values, key=itemgetter(0))
    cursor = raw.cursor()
    try:
        cursor.executemany(sql, _sqlite_rows(table, ordered))
        return int(cursor.rowcount)
    finally:
        cursor.close()


# --- PostgreSQL ------------------------------------------------------------------------


_COPY_TYPES: tuple[tuple[type[TypeEngine[Any]], str], ...] = (
    (Boolean, "bool"),
    (SmallInteger, "int2"),
    (BigInteger, "int8"),
    (Integer, "int4"),
    (JSON, "text"),  # text we serialised already; `json` takes it as text
    (String, "text"),
    (Date, "date"),
)


def _postgres_type(column: Column[Any]) -> str:
    """The PostgreSQL type a binary COPY sends a column's values as."""
    kind = column.type
    if isinstance(kind, DateTime):
        return "timestamptz" if kind.timezone else "timestamp"
    return next(name for base, name in _COPY_TYPES if isinstance(kind, base))


def _postgres_bulk(
    raw: Any,
    table: Table,
    conflict: Sequence[str],
    fill: Sequence[str],
    values: Sequence[tuple[Any, ...]],
) -> int:
    columns = ", ".join(c.name for c in table.columns)
    stage = f"_stage_{table.name}"
    with raw.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {stage} "
            f"(LIKE {table.name} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
        )
        cursor.execute(f"TRUNCATE {stage}")
        # Binary, with the types given once: a third of the client's work of text COPY.
        with cursor.copy(f"COPY {stage} ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types([_postgres_type(c) for c in table.columns])
            for row in values:
                copy.write_row(row)
        cursor.execute(
            f"INSERT INTO {table.name} ({columns}) SELECT {columns} FROM {stage} "
            + _on_conflict(table, conflict, fill, "EXCLUDED", ' COLLATE "C"')
        )
        return int(cursor.rowcount)


_BULK: dict[str, Callable[[Any, Table, Sequence[str], Sequence[str], Sequence[Any]], int]] = {
    "sqlite": _sqlite_bulk,
    "postgresql": _postgres_bulk,
}

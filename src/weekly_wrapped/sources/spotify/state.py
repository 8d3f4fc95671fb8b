"""The poller's own rows: cursors, coverage gaps, backoff after a long 429, auth status."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Connection, and_, delete, insert, select, update

from weekly_wrapped.warehouse.queries import as_utc
from weekly_wrapped.warehouse.schema import (
    coverage_gap,
    delivery,
    dim_user,
    ingest_cursor,
    oauth_token,
    poll_backoff,
)
from weekly_wrapped.warehouse.upsert import insert_if_absent, upsert

SOURCE = "api"
"""The `ingest_cursor.source` (and PlayEvent source) of the Spotify poller."""
RECONNECT = "reconnect"
"""The delivery channel of the "please reconnect" email."""


@dataclass(frozen=True)
class PollTarget:
    """A user as the poller sees them: who, where their cursor is, and whether to wait."""

    user_key: int
    display_name: str
    auth_status: str
    connected: bool
    cursor: datetime | None
    not_before: datetime | None


def poll_targets(conn: Connection, user_keys: Sequence[int] | None) -> list[PollTarget]:
    """The given users, or (when None) every user who has connected Spotify, lapsed or not."""
    cursor = ingest_cursor.alias("cursor")
    backoff = poll_backoff.alias("backoff")
    query = (
        select(
            dim_user.c.user_key,
            dim_user.c.display_name,
            dim_user.c.auth_status,
            oauth_token.c.user_key.is_not(None).label("connected"),
            cursor.c.last_played_at,
            backoff.c.not_before,
        )
        .outerjoin(oauth_token, oauth_token.c.user_key == dim_user.c.user_key)
        .outerjoin(
            cursor, and_(cursor.c.user_key == dim_user.c.user_key, cursor.c.source == SOURCE)
        )
        .outerjoin(
            backoff, and_(backoff.c.user_key == dim_user.c.user_key, backoff.c.source == SOURCE)
        )
        .order_by(dim_user.c.user_key)
    )
    if user_keys is None:
        query = query.where(dim_user.c.auth_status.in_(("ok", "reauth_needed")))
    else:
        query = query.where(dim_user.c.user_key.in_(list(user_keys)))
    return [
        PollTarget(
            row.user_key,
            row.display_name,
            row.auth_status,
            bool(row.connected),
            None if row.last_played_at is None else as_utc(row.last_played_at),
            None if row.not_before is None else as_utc(row.not_before),
        )
        for row in conn.execute(query)
    ]


def advance_cursor(
    conn: Connection, user_key: int, last_played_at: datetime | None, now: datetime
) -> None:
    """Move the cursor to `last_played_at` and note the poll time; with no plays yet, just the time."""
    if last_played_at is None:
        conn.execute(
            update(ingest_cursor)
            .where(ingest_cursor.c.user_key == user_key, ingest_cursor.c.source == SOURCE)
            .values(updated_at=now)
        )
        return
    values = {"user_key": user_key, "source": SOURCE, "last_played_at": last_played_at}
    upsert(conn, ingest_cursor, values | {"updated_at": now}, keys=("user_key", "source"))


def record_gap(
    conn: Connection, user_key: int, start: datetime, end: datetime, reason: str, now: datetime
) -> None:
    conn.execute(
        insert(coverage_gap).values(
            user_key=user_key, start_utc=start, end_utc=end, reason=reason, detected_at=now
        )
    )


def set_backoff(conn: Connection, user_key: int, not_before: datetime, reason: str) -> None:
    values = {"user_key": user_key, "source": SOURCE, "not_before": not_before, "reason": reason}
    upsert(conn, poll_backoff, values, keys=("user_key", "source"))


def clear_backoff(conn: Connection, user_key: int) -> None:
    conn.execute(
        delete(poll_backoff).where(
            poll_backoff.c.user_key == user_key, poll_backoff.c.source == SOURCE
        )
    )


def set_auth_status(conn: Connection, user_key: int, status: str) -> bool:
    """Set the user's Spotify status; True when it changed."""
    changed = conn.execute(
        update(dim_user)
        .where(dim_user.c.user_key == user_key, dim_user.c.auth_status != status)
        .values(auth_status=status)
    )
    return changed.rowcount == 1


def owe_reconnect(conn: Connection, user_key: int, week_start: date) -> None:
    """Owe the user the reconnect email of the week their grant lapsed (once per week).

    The owed email is a ``queued`` row of the delivery ledger that no run holds yet;
    delivery sends it.
    """
    values = {
        "user_key": user_key,
        "week_start": week_start,
        "channel": RECONNECT,
        "status": "queued",
        "attempts": 0,
    }
    insert_if_absent(conn, delivery, values)

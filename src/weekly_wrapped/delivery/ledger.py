"""The `delivery` table as a ledger: one row per (user, week, channel), moved through
``queued → sending → sent`` with compare-and-set updates keyed by the Message-ID.

- ``queued``: a run has claimed the row and not yet handed the message over. Nothing
  has left, so another run may take it over (it then writes its own Message-ID, and
  the first run's hand-over fails).
- ``sending``: the message was handed over (SMTP DATA began, or the outbox file is
  being written). It may have arrived, so no run sends it again without ``resend``.
- ``sent``: done. ``deferred``: temporary failures used up the attempts, or the email
  could not even be made (the error says why); the next run tries again. ``failed``:
  refused for good; only ``resend`` tries again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, Update, select, update

from weekly_wrapped.warehouse.schema import delivery
from weekly_wrapped.warehouse.upsert import insert_if_absent

QUEUED, SENDING, SENT, DEFERRED, FAILED = "queued", "sending", "sent", "deferred", "failed"
_CLAIMABLE = (QUEUED, DEFERRED)


@dataclass(frozen=True)
class DeliveryKey:
    """What goes out at most once: one channel's email for one user's week."""

    user_key: int
    week_start: date
    channel: str


@dataclass(frozen=True)
class DeliveryRecord:
    """A row of the `delivery` table."""

    status: str
    attempts: int
    last_error: str | None
    message_id: str | None
    sent_at: datetime | None


def read(conn: Connection, key: DeliveryKey) -> DeliveryRecord | None:
    """The ledger row for `key`, if any run has claimed it."""
    row = conn.execute(
        select(
            delivery.c.status,
            delivery.c.attempts,
            delivery.c.last_error,
            delivery.c.message_id,
            delivery.c.sent_at,
        ).where(*_matches(key))
    ).one_or_none()
    if row is None:
        return None
    sent_at = row.sent_at
    if sent_at is not None and sent_at.tzinfo is None:
        sent_at = sent_at.replace(tzinfo=UTC)  # SQLite drops the zone; we store UTC
    return DeliveryRecord(row.status, row.attempts, row.last_error, row.message_id, sent_at)


def claim(conn: Connection, key: DeliveryKey, message_id: str, resend: bool) -> bool:
    """Take the row for a new send under `message_id`; False when it is not ours to send."""
    values: dict[str, Any] = {"status": QUEUED, "message_id": message_id}
    row = {"user_key": key.user_key, "week_start": key.week_start, "channel": key.channel}
    if insert_if_absent(conn, delivery, row | values | {"attempts": 0}):
        return True
    statement = update(delivery).where(*_matches(key))
    if resend:
        values |= {"attempts": 0, "sent_at": None, "last_error": None}
    else:
        statement = statement.where(delivery.c.status.in_(_CLAIMABLE))
    return conn.execute(statement.values(**values)).rowcount == 1


def hand_over(conn: Connection, key: DeliveryKey, message_id: str) -> bool:
    """Mark the message as possibly sent; False when another run has taken the row."""
    statement = _ours(key, message_id).where(delivery.c.status.in_((QUEUED, SENDING)))
    return conn.execute(statement.values(status=SENDING)).rowcount == 1


def record_sent(conn: Connection, key: DeliveryKey, message_id: str, sent_at: datetime) -> None:
    """The server (or the outbox) has the message."""
    conn.execute(
        _ours(key, message_id).values(
            status=SENT, attempts=delivery.c.attempts + 1, sent_at=sent_at
        )
    )


def record_failure(
    conn: Connection, key: DeliveryKey, message_id: str, status: str, error: str
) -> None:
    """Count a failed attempt, keep its error, and move the row to `status`."""
    values: dict[str, Any] = {
        "status": status,
        "attempts": delivery.c.attempts + 1,
        "last_error": error[:2000],
    }
    conn.execute(_ours(key, message_id).values(**values))


def note_failure(conn: Connection, key: DeliveryKey, error: str) -> None:
    """Keep an error from before any message was handed over; the next run tries again.

    A new row is ``deferred``. A row that exists keeps its status (another run may hold
    it, or the email went out earlier and this was a resend); only its error changes.
    """
    row = {"user_key": key.user_key, "week_start": key.week_start, "channel": key.channel}
    values = {"status": DEFERRED, "attempts": 0, "last_error": error[:2000]}
    if insert_if_absent(conn, delivery, row | values):
        return
    conn.execute(update(delivery).where(*_matches(key)).values(last_error=error[:2000]))


def _matches(key: DeliveryKey) -> tuple[Any, ...]:
    return (
        delivery.c.user_key == key.user_key,
        delivery.c.week_start == key.week_start,
        delivery.c.channel == key.channel,
    )


def _ours(key: DeliveryKey, message_id: str) -> Update:
    return update(delivery).where(*_matches(key), delivery.c.message_id == message_id)

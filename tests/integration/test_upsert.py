"""The one upsert helper on both backends: insert-or-update and insert-if-absent by key."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Engine, select

from weekly_wrapped.warehouse import users
from weekly_wrapped.warehouse.schema import delivery, poll_backoff
from weekly_wrapped.warehouse.upsert import insert_if_absent, upsert

T0 = datetime(2026, 11, 16, 7, 0, tzinfo=UTC)
WEEK = date(2026, 11, 16)


def add_user(engine: Engine, name: str = "Ada") -> int:
    with engine.begin() as conn:
        return users.add_user(conn, name=name)


def backoffs(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(poll_backoff.c.user_key, poll_backoff.c.source, poll_backoff.c.reason)
            .order_by(poll_backoff.c.user_key, poll_backoff.c.source)
        )  # fmt: skip
        return [tuple(row) for row in rows]


def test_upsert_inserts_then_updates_the_row_with_the_same_key(engine: Engine) -> None:
    ada, grace = add_user(engine, "Ada"), add_user(engine, "Grace")
    row = {"user_key": ada, "source": "api", "not_before": T0, "reason": "429"}
    keys = ("user_key", "source")
    with engine.begin() as conn:
        upsert(conn, poll_backoff, row, keys)
        upsert(conn, poll_backoff, row | {"source": "export"}, keys)
        upsert(conn, poll_backoff, row | {"user_key": grace}, keys)
        upsert(conn, poll_backoff, row | {"reason": "503"}, keys)
    assert backoffs(engine) == [(ada, "api", "503"), (ada, "export", "429"), (grace, "api", "429")]


def test_upsert_leaves_columns_it_was_not_given(engine: Engine) -> None:
    ada = add_user(engine)
    key = {"user_key": ada, "week_start": WEEK, "channel": "recap"}
    keys = ("user_key", "week_start", "channel")
    with engine.begin() as conn:
        upsert(conn, delivery, key | {"status": "sent", "attempts": 2, "message_id": "<m@x>"}, keys)
        upsert(conn, delivery, key | {"status": "queued"}, keys)
        row = conn.execute(select(delivery.c.status, delivery.c.attempts, delivery.c.message_id))
        assert row.one() == ("queued", 2, "<m@x>")


def test_insert_if_absent_says_whether_it_inserted_and_never_overwrites(engine: Engine) -> None:
    ada = add_user(engine)
    key = {"user_key": ada, "week_start": WEEK, "channel": "recap"}
    with engine.begin() as conn:
        assert insert_if_absent(conn, delivery, key | {"status": "queued", "attempts": 0})
        assert not insert_if_absent(conn, delivery, key | {"status": "sent", "attempts": 5})
        assert insert_if_absent(conn, delivery, key | {"channel": "reconnect", "status": "queued"})
        rows = conn.execute(select(delivery.c.channel, delivery.c.status, delivery.c.attempts)
                            .order_by(delivery.c.channel))  # fmt: skip
        assert [tuple(r) for r in rows] == [("recap", "queued", 0), ("reconnect", "queued", 0)]

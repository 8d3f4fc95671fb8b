"""quarantine once: each bad row kept once, by stage, user and a hash of the row

Importing the same files again used to add their bad rows again. Each row now
carries the size and SHA-256 of its whole raw payload, which is cut to its first
64 KiB when longer, and unique indexes keep one row per stage, user and payload
(per stage and payload where the user is unknown). Rows already stored get their
size and hash here, long ones are cut, and repeats collapse into the earliest.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 09:00:00.000000
"""

from __future__ import annotations

import hashlib
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

KEPT_BYTES = 64 << 10
BATCH = 1000
WITHOUT_USER = sa.text("user_key IS NULL")

quarantine = sa.table(
    "quarantine",
    sa.column("quarantine_id", sa.Integer),
    sa.column("stage", sa.String),
    sa.column("user_key", sa.Integer),
    sa.column("payload", sa.Text),
    sa.column("payload_bytes", sa.BigInteger),
    sa.column("payload_sha256", sa.String),
)


def upgrade() -> None:
    with op.batch_alter_table("quarantine", schema=None) as batch_op:
        batch_op.add_column(sa.Column("payload_bytes", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("payload_sha256", sa.String(length=64), nullable=True))
    _hash_and_collapse(op.get_bind())
    with op.batch_alter_table("quarantine", schema=None) as batch_op:
        batch_op.alter_column("payload_bytes", existing_type=sa.BigInteger(), nullable=False)
        batch_op.alter_column("payload_sha256", existing_type=sa.String(length=64), nullable=False)
        batch_op.create_index(
            "uq_quarantine_row", ["stage", "user_key", "payload_sha256"], unique=True
        )
        batch_op.create_index(
            "uq_quarantine_row_without_user",
            ["stage", "payload_sha256"],
            unique=True,
            sqlite_where=WITHOUT_USER,
            postgresql_where=WITHOUT_USER,
        )


def _hash_and_collapse(conn: sa.Connection) -> None:
    """Give each stored row its size and hash, cut long payloads, and drop later repeats."""
    seen: set[tuple[Any, ...]] = set()
    last = 0
    while True:
        rows = conn.execute(
            sa.select(quarantine.c.quarantine_id, quarantine.c.stage, quarantine.c.user_key,
                      quarantine.c.payload)
            .where(quarantine.c.quarantine_id > last)
            .order_by(quarantine.c.quarantine_id)
            .limit(BATCH)
        ).all()  # fmt: skip
        if not rows:
            return
        repeats, updates = [], []
        for row in rows:
            raw = row.payload.encode("utf-8", errors="surrogatepass")
            digest = hashlib.sha256(raw).hexdigest()
            key = (row.stage, row.user_key, digest)
            if key in seen:
                repeats.append(row.quarantine_id)
                continue
            seen.add(key)
            kept = raw[:KEPT_BYTES].decode("utf-8", errors="ignore")
            updates.append({"id": row.quarantine_id, "p": kept, "n": len(raw), "h": digest})
        _apply(conn, repeats, updates)
        last = rows[-1].quarantine_id


def _apply(conn: sa.Connection, repeats: list[int], updates: list[dict[str, Any]]) -> None:
    if repeats:
        conn.execute(sa.delete(quarantine).where(quarantine.c.quarantine_id.in_(repeats)))
    if updates:
        conn.execute(
            sa.update(quarantine)
            .where(quarantine.c.quarantine_id == sa.bindparam("id"))
            .values(
                payload=sa.bindparam("p"),
                payload_bytes=sa.bindparam("n"),
                payload_sha256=sa.bindparam("h"),
            ),
            updates,
        )


def downgrade() -> None:
    with op.batch_alter_table("quarantine", schema=None) as batch_op:
        batch_op.drop_index("uq_quarantine_row_without_user")
        batch_op.drop_index("uq_quarantine_row")
        batch_op.drop_column("payload_sha256")
        batch_op.drop_column("payload_bytes")

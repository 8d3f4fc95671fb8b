"""spotify state: poll backoff after a long 429, and the lookups enrichment made

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 13:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "poll_backoff",
        sa.Column("user_key", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_key"], ["dim_user.user_key"], name=op.f("fk_poll_backoff_user_key_dim_user")
        ),
        sa.PrimaryKeyConstraint("user_key", "source", name=op.f("pk_poll_backoff")),
    )
    op.create_table(
        "spotify_lookup",
        sa.Column("entity", sa.String(length=8), nullable=False),
        sa.Column("entity_key", sa.String(length=64), nullable=False),
        sa.Column("spotify_id", sa.String(length=64), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("looked_up_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("entity", "entity_key", name=op.f("pk_spotify_lookup")),
    )


def downgrade() -> None:
    op.drop_table("spotify_lookup")
    op.drop_table("poll_backoff")

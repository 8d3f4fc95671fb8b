"""merged plays: reports of a play that another source also reported

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 12:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "fact_play_merged",
        sa.Column("play_id", sa.String(length=32), nullable=False),
        sa.Column("user_key", sa.Integer(), nullable=False),
        sa.Column("track_key", sa.String(length=64), nullable=False),
        sa.Column("artist_key", sa.String(length=64), nullable=False),
        sa.Column("album_key", sa.String(length=64), nullable=True),
        sa.Column("song_key", sa.String(length=40), nullable=False),
        sa.Column("played_at_utc", sa.DateTime(timezone=True), nullable=False),
        sa.Column("time_precision", sa.String(length=3), nullable=False),
        sa.Column("local_date_key", sa.Integer(), nullable=False),
        sa.Column("local_hour", sa.SmallInteger(), nullable=False),
        sa.Column("ms_played", sa.BigInteger(), nullable=False),
        sa.Column("ms_played_estimated", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("context_uri", sa.Text(), nullable=True),
        sa.Column("reason_start", sa.String(length=32), nullable=True),
        sa.Column("reason_end", sa.String(length=32), nullable=True),
        sa.Column("skipped", sa.Boolean(), nullable=True),
        sa.Column("shuffle", sa.Boolean(), nullable=True),
        sa.Column("offline", sa.Boolean(), nullable=True),
        sa.Column("incognito", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("merged_into", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("play_id", name=op.f("pk_fact_play_merged")),
    )
    with op.batch_alter_table("fact_play_merged", schema=None) as batch_op:
        batch_op.create_index(
            "ix_fact_play_merged_user_song_played_at",
            ["user_key", "song_key", "played_at_utc"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("fact_play_merged", schema=None) as batch_op:
        batch_op.drop_index("ix_fact_play_merged_user_song_played_at")
    op.drop_table("fact_play_merged")

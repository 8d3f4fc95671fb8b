"""stats indexes: an artist's and a song's plays in time order, per user

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-24 10:30:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("fact_play", schema=None) as batch_op:
        batch_op.create_index(
            "ix_fact_play_user_artist_played_at",
            ["user_key", "artist_key", "played_at_utc"],
            unique=False,
        )
        batch_op.create_index(
            "ix_fact_play_user_song_played_at",
            ["user_key", "song_key", "played_at_utc"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("fact_play", schema=None) as batch_op:
        batch_op.drop_index("ix_fact_play_user_song_played_at")
        batch_op.drop_index("ix_fact_play_user_artist_played_at")

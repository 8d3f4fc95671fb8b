"""stats stream indexes: each user's music streams by artist and by song, in time order

They replace the two plain indexes of 0003. Being partial (music streams only) and
carrying `incognito`, they answer "the latest earlier stream" from the index alone.
A warehouse built while 0003 briefly declared these indexes already has them.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24 09:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

MUSIC_STREAM = "kind = 'track' AND ms_played >= 30000"
STREAM_INDEXES = {
    "ix_fact_play_artist_streams": ["user_key", "artist_key", "played_at_utc", "incognito"],
    "ix_fact_play_song_streams": ["user_key", "song_key", "played_at_utc", "incognito"],
}
PLAIN_INDEXES = {
    "ix_fact_play_user_artist_played_at": ["user_key", "artist_key", "played_at_utc"],
    "ix_fact_play_user_song_played_at": ["user_key", "song_key", "played_at_utc"],
}


def upgrade() -> None:
    with op.batch_alter_table("fact_play", schema=None) as batch_op:
        for name in PLAIN_INDEXES:
            batch_op.drop_index(name, if_exists=True)
        for name, columns in STREAM_INDEXES.items():
            batch_op.create_index(
                name,
                columns,
                unique=False,
                if_not_exists=True,
                sqlite_where=sa.text(MUSIC_STREAM),
                postgresql_where=sa.text(MUSIC_STREAM),
            )


def downgrade() -> None:
    with op.batch_alter_table("fact_play", schema=None) as batch_op:
        for name in STREAM_INDEXES:
            batch_op.drop_index(name)
        for name, columns in PLAIN_INDEXES.items():
            batch_op.create_index(name, columns, unique=False)

"""play spellings: every play keeps its own artist and title

Until now a play's artist and song keys came from the first play of its batch with
the same Spotify track id, so when Spotify had renamed an artist or a title under
that id, plays borrowed another play's names. This revision adds `dim_spelling`
(the names each play carried) and recomputes the keys of stored plays:

- Each stored play's event id was computed from its own song key, so the song key
  can be recovered exactly: every known name of the play's track id (other plays'
  keys, the track's credited first artists, titles of name-only copies of the
  song) is tried until one reproduces the event id.
- Plays whose keys change are matched again with other sources (DESIGN §3), so an
  account-format play and its extended twin that failed to match are stored once.
- A title that the old release never stored anywhere (only its hash survives)
  is shown as the track's catalogue title.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 06:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from weekly_wrapped.warehouse.migrations.reattribute import reattribute

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

FACTS = ("fact_play", "fact_play_merged")


def upgrade() -> None:
    op.create_table(
        "dim_spelling",
        sa.Column("spelling_key", sa.String(length=24), nullable=False),
        sa.Column("track_name", sa.Text(), nullable=False),
        sa.Column("artist_name", sa.Text(), nullable=False),
        sa.Column("album_name", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("spelling_key", name=op.f("pk_dim_spelling")),
    )
    for table in FACTS:
        op.add_column(table, sa.Column("spelling_key", sa.String(length=24), nullable=True))
    reattribute(op.get_bind())
    for table in FACTS:
        with op.batch_alter_table(table) as batch_op:
            batch_op.alter_column(
                "spelling_key", existing_type=sa.String(length=24), nullable=False
            )


def downgrade() -> None:
    for table in FACTS:
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column("spelling_key")
    op.drop_table("dim_spelling")

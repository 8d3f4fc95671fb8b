"""recap authorship: how many drafts the writer was asked for, and the grounding check's result

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("recap", sa.Column("attempts", sa.Integer(), nullable=False, server_default="1"))
    op.add_column("recap", sa.Column("grounding", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("recap") as batch:
        batch.drop_column("grounding")
        batch.drop_column("attempts")

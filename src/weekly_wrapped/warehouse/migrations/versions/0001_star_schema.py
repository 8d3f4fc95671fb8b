"""star schema

Revision ID: 0001
Revises:
Create Date: 2026-11-24 08:18:01.971140
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "dim_album",
        sa.Column("album_key", sa.String(length=64), nullable=False),
        sa.Column("spotify_id", sa.String(length=64), nullable=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("release_date", sa.String(length=10), nullable=True),
        sa.Column("album_type", sa.String(length=16), nullable=True),
        sa.Column("image_url", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("album_key", name=op.f("pk_dim_album")),
        sa.UniqueConstraint("spotify_id", name=op.f("uq_dim_album_spotify_id")),
    )
    op.create_table(
        "dim_artist",
        sa.Column("artist_key", sa.String(length=64), nullable=False),
        sa.Column("spotify_id", sa.String(length=64), nullable=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("genres", sa.JSON(), nullable=True),
        sa.Column("image_url", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("artist_key", name=op.f("pk_dim_artist")),
        sa.UniqueConstraint("spotify_id", name=op.f("uq_dim_artist_spotify_id")),
    )
    op.create_table(
        "dim_date",
        sa.Column("date_key", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("iso_year", sa.SmallInteger(), nullable=False),
        sa.Column("iso_week", sa.SmallInteger(), nullable=False),
        sa.Column("week_start", sa.Date(), nullable=False),
        sa.Column("day_of_week", sa.SmallInteger(), nullable=False),
        sa.Column("month", sa.SmallInteger(), nullable=False),
        sa.Column("year", sa.SmallInteger(), nullable=False),
        sa.PrimaryKeyConstraint("date_key", name=op.f("pk_dim_date")),
    )
    op.create_table(
        "dim_user",
        sa.Column("user_key", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("spotify_user_id", sa.String(length=128), nullable=True),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("timezone", sa.String(length=64), server_default="UTC", nullable=False),
        sa.Column("weekly_email", sa.Boolean(), server_default="1", nullable=False),
        sa.Column("auth_status", sa.String(length=16), server_default="none", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_key", name=op.f("pk_dim_user")),
        sa.UniqueConstraint("spotify_user_id", name=op.f("uq_dim_user_spotify_user_id")),
    )
    op.create_table(
        "fact_play",
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
        sa.PrimaryKeyConstraint("play_id", name=op.f("pk_fact_play")),
    )
    with op.batch_alter_table("fact_play", schema=None) as batch_op:
        batch_op.create_index(
            "ix_fact_play_estimated",
            ["user_key", "played_at_utc"],
            unique=False,
            sqlite_where=sa.text("ms_played_estimated = 1"),
            postgresql_where=sa.text("ms_played_estimated = true"),
        )
        batch_op.create_index(
            "ix_fact_play_user_local_date", ["user_key", "local_date_key"], unique=False
        )
        batch_op.create_index(
            "ix_fact_play_user_played_at", ["user_key", "played_at_utc"], unique=False
        )

    op.create_table(
        "quarantine",
        sa.Column("quarantine_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stage", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("user_key", sa.Integer(), nullable=True),
        sa.Column("event_id", sa.String(length=64), nullable=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("quarantine_id", name=op.f("pk_quarantine")),
    )
    op.create_table(
        "coverage_gap",
        sa.Column("gap_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_key", sa.Integer(), nullable=False),
        sa.Column("start_utc", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_utc", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("detected_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_key"], ["dim_user.user_key"], name=op.f("fk_coverage_gap_user_key_dim_user")
        ),
        sa.PrimaryKeyConstraint("gap_id", name=op.f("pk_coverage_gap")),
    )
    with op.batch_alter_table("coverage_gap", schema=None) as batch_op:
        batch_op.create_index("ix_coverage_gap_user_start", ["user_key", "start_utc"], unique=False)

    op.create_table(
        "delivery",
        sa.Column("user_key", sa.Integer(), nullable=False),
        sa.Column("week_start", sa.Date(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("message_id", sa.String(length=255), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_key"], ["dim_user.user_key"], name=op.f("fk_delivery_user_key_dim_user")
        ),
        sa.PrimaryKeyConstraint("user_key", "week_start", "channel", name=op.f("pk_delivery")),
    )
    op.create_table(
        "dim_track",
        sa.Column("track_key", sa.String(length=64), nullable=False),
        sa.Column("spotify_id", sa.String(length=64), nullable=True),
        sa.Column("song_key", sa.String(length=40), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.Column("explicit", sa.Boolean(), nullable=True),
        sa.Column("isrc", sa.String(length=16), nullable=True),
        sa.Column("album_key", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["album_key"], ["dim_album.album_key"], name=op.f("fk_dim_track_album_key_dim_album")
        ),
        sa.PrimaryKeyConstraint("track_key", name=op.f("pk_dim_track")),
        sa.UniqueConstraint("spotify_id", name=op.f("uq_dim_track_spotify_id")),
    )
    with op.batch_alter_table("dim_track", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_dim_track_song_key"), ["song_key"], unique=False)

    op.create_table(
        "import_job",
        sa.Column("job_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_key", sa.Integer(), nullable=False),
        sa.Column("source_path", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("files_total", sa.Integer(), server_default="0", nullable=False),
        sa.Column("files_done", sa.JSON(), nullable=True),
        sa.Column("rows_read", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("plays_added", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("duplicates", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("skipped", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_key"], ["dim_user.user_key"], name=op.f("fk_import_job_user_key_dim_user")
        ),
        sa.PrimaryKeyConstraint("job_id", name=op.f("pk_import_job")),
    )
    op.create_table(
        "ingest_cursor",
        sa.Column("user_key", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("last_played_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_key"], ["dim_user.user_key"], name=op.f("fk_ingest_cursor_user_key_dim_user")
        ),
        sa.PrimaryKeyConstraint("user_key", "source", name=op.f("pk_ingest_cursor")),
    )
    op.create_table(
        "oauth_token",
        sa.Column("user_key", sa.Integer(), nullable=False),
        sa.Column("access_token_enc", sa.Text(), nullable=False),
        sa.Column("refresh_token_enc", sa.Text(), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("scope", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_key"], ["dim_user.user_key"], name=op.f("fk_oauth_token_user_key_dim_user")
        ),
        sa.PrimaryKeyConstraint("user_key", name=op.f("pk_oauth_token")),
    )
    op.create_table(
        "recap",
        sa.Column("user_key", sa.Integer(), nullable=False),
        sa.Column("week_start", sa.Date(), nullable=False),
        sa.Column("stats", sa.JSON(), nullable=False),
        sa.Column("story", sa.JSON(), nullable=False),
        sa.Column("writer", sa.String(length=32), nullable=False),
        sa.Column("model", sa.String(length=128), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_key"], ["dim_user.user_key"], name=op.f("fk_recap_user_key_dim_user")
        ),
        sa.PrimaryKeyConstraint("user_key", "week_start", name=op.f("pk_recap")),
    )
    op.create_table(
        "bridge_track_artist",
        sa.Column("track_key", sa.String(length=64), nullable=False),
        sa.Column("artist_key", sa.String(length=64), nullable=False),
        sa.Column("position", sa.SmallInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["artist_key"],
            ["dim_artist.artist_key"],
            name=op.f("fk_bridge_track_artist_artist_key_dim_artist"),
        ),
        sa.ForeignKeyConstraint(
            ["track_key"],
            ["dim_track.track_key"],
            name=op.f("fk_bridge_track_artist_track_key_dim_track"),
        ),
        sa.PrimaryKeyConstraint("track_key", "artist_key", name=op.f("pk_bridge_track_artist")),
    )


def downgrade() -> None:

    op.drop_table("bridge_track_artist")
    op.drop_table("recap")
    op.drop_table("oauth_token")
    op.drop_table("ingest_cursor")
    op.drop_table("import_job")
    with op.batch_alter_table("dim_track", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dim_track_song_key"))

    op.drop_table("dim_track")
    op.drop_table("delivery")
    with op.batch_alter_table("coverage_gap", schema=None) as batch_op:
        batch_op.drop_index("ix_coverage_gap_user_start")

    op.drop_table("coverage_gap")
    op.drop_table("quarantine")
    with op.batch_alter_table("fact_play", schema=None) as batch_op:
        batch_op.drop_index("ix_fact_play_user_played_at")
        batch_op.drop_index("ix_fact_play_user_local_date")
        batch_op.drop_index(
            "ix_fact_play_estimated",
            sqlite_where=sa.text("ms_played_estimated = 1"),
            postgresql_where=sa.text("ms_played_estimated = true"),
        )

    op.drop_table("fact_play")
    op.drop_table("dim_user")
    op.drop_table("dim_date")
    op.drop_table("dim_artist")
    op.drop_table("dim_album")

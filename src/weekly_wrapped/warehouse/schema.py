"""Star-schema tables (DESIGN §4), the same on SQLite and PostgreSQL.

Keys of tracks, artists and albums are the Spotify id when known, else an ``n:``
key from `weekly_wrapped.identity`, so a writer never has to look a key up.
`fact_play` carries the primary artist and album keys, and the song key, so the
weekly stats need no join through the bridge table.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    literal_column,
    true,
)

from weekly_wrapped.rows import STREAM_MS

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING)

KEY = String(64)
Timestamp = DateTime(timezone=True)

dim_user = Table(
    "dim_user",
    metadata,
    Column("user_key", Integer, primary_key=True, autoincrement=True),
    Column("spotify_user_id", String(128), unique=True),
    Column("display_name", String(200), nullable=False),
    Column("email", String(320)),
    Column("timezone", String(64), nullable=False, server_default="UTC"),
    Column("weekly_email", Boolean, nullable=False, server_default="1"),
    Column("auth_status", String(16), nullable=False, server_default="none"),
    Column("created_at", Timestamp, nullable=False),
)

dim_artist = Table(
    "dim_artist",
    metadata,
    Column("artist_key", KEY, primary_key=True),
    Column("spotify_id", String(64), unique=True),
    Column("name", Text, nullable=False),
    Column("genres", JSON),
    Column("image_url", Text),
)

dim_album = Table(
    "dim_album",
    metadata,
    Column("album_key", KEY, primary_key=True),
    Column("spotify_id", String(64), unique=True),
    Column("name", Text, nullable=False),
    Column("release_date", String(10)),
    Column("album_type", String(16)),
    Column("image_url", Text),
)

dim_track = Table(
    "dim_track",
    metadata,
    Column("track_key", KEY, primary_key=True),
    Column("spotify_id", String(64), unique=True),
    Column("song_key", String(40), nullable=False, index=True),
    Column("name", Text, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("duration_ms", Integer),
    Column("explicit", Boolean),
    Column("isrc", String(16)),
    Column("album_key", KEY, ForeignKey("dim_album.album_key")),
)

bridge_track_artist = Table(
    "bridge_track_artist",
    metadata,
    Column("track_key", KEY, ForeignKey("dim_track.track_key"), primary_key=True),
    Column("artist_key", KEY, ForeignKey("dim_artist.artist_key"), primary_key=True),
    Column("position", SmallInteger, nullable=False),
)

# The names each play carried, exactly as its source spelled them. Spotify renames
# artists and titles under one track id over the years, so a play is named by its own
# spelling, never by the catalogue row of its track id (DESIGN §3).
dim_spelling = Table(
    "dim_spelling",
    metadata,
    Column("spelling_key", String(24), primary_key=True),
    Column("track_name", Text, nullable=False),
    Column("artist_name", Text, nullable=False),
    Column("album_name", Text),
)

dim_date = Table(
    "dim_date",
    metadata,
    Column("date_key", Integer, primary_key=True, autoincrement=False),
    Column("date", Date, nullable=False),
    Column("iso_year", SmallInteger, nullable=False),
    Column("iso_week", SmallInteger, nullable=False),
    Column("week_start", Date, nullable=False),
    Column("day_of_week", SmallInteger, nullable=False),
    Column("month", SmallInteger, nullable=False),
    Column("year", SmallInteger, nullable=False),
)


def _play_columns() -> list[Column[Any]]:
    """The columns of one play, shared by `fact_play` and `fact_play_merged`."""
    return [
        Column("play_id", String(32), primary_key=True),
        Column("user_key", Integer, nullable=False),
        Column("track_key", KEY, nullable=False),
        Column("artist_key", KEY, nullable=False),
        Column("album_key", KEY),
        Column("song_key", String(40), nullable=False),
        Column("played_at_utc", Timestamp, nullable=False),
        Column("time_precision", String(3), nullable=False),
        Column("local_date_key", Integer, nullable=False),
        Column("local_hour", SmallInteger, nullable=False),
        Column("ms_played", BigInteger, nullable=False),
        Column("ms_played_estimated", Boolean, nullable=False),
        Column("source", String(16), nullable=False),
        Column("kind", String(16), nullable=False),
        Column("context_uri", Text),
        Column("reason_start", String(32)),
        Column("reason_end", String(32)),
        Column("skipped", Boolean),
        Column("shuffle", Boolean),
        Column("offline", Boolean),
        Column("incognito", Boolean, nullable=False, server_default="0"),
        Column("spelling_key", String(24), nullable=False),
    ]


# No enforced foreign keys on the fact table: the writer inserts every dimension row in
# the same transaction before the facts that use it (a test checks there are no
# orphans), and skipping the per-row checks doubles PostgreSQL's load rate.
fact_play = Table(
    "fact_play",
    metadata,
    *_play_columns(),
    Index("ix_fact_play_user_played_at", "user_key", "played_at_utc"),
    Index("ix_fact_play_user_local_date", "user_key", "local_date_key"),
)
# The stats' whole-history questions ("first stream ever", "back after 8 weeks") read an
# artist's or a song's latest earlier music stream from these alone, whatever the history.
_MUSIC_STREAM = (fact_play.c.kind == literal_column("'track'")) & (
    fact_play.c.ms_played >= literal_column(str(STREAM_MS))
)
Index(
    "ix_fact_play_artist_streams",
    fact_play.c.user_key,
    fact_play.c.artist_key,
    fact_play.c.played_at_utc,
    fact_play.c.incognito,
    sqlite_where=_MUSIC_STREAM,
    postgresql_where=_MUSIC_STREAM,
)
Index(
    "ix_fact_play_song_streams",
    fact_play.c.user_key,
    fact_play.c.song_key,
    fact_play.c.played_at_utc,
    fact_play.c.incognito,
    sqlite_where=_MUSIC_STREAM,
    postgresql_where=_MUSIC_STREAM,
)
# Only API plays have an estimated ms_played; this small index finds them for re-estimation.
Index(
    "ix_fact_play_estimated",
    fact_play.c.user_key,
    fact_play.c.played_at_utc,
    sqlite_where=fact_play.c.ms_played_estimated == true(),
    postgresql_where=fact_play.c.ms_played_estimated == true(),
)

# A play that another source also reported (DESIGN §3) is stored once, in fact_play;
# the other reports are kept here with the play they merged into, so matching can be
# redone exactly when a new play arrives and nothing a source said is lost.
fact_play_merged = Table(
    "fact_play_merged",
    metadata,
    *_play_columns(),
    Column("merged_into", String(32), nullable=False),
    Index("ix_fact_play_merged_user_song_played_at", "user_key", "song_key", "played_at_utc"),
)

recap = Table(
    "recap",
    metadata,
    Column("user_key", Integer, ForeignKey("dim_user.user_key"), primary_key=True),
    Column("week_start", Date, primary_key=True),
    Column("stats", JSON, nullable=False),
    Column("story", JSON, nullable=False),
    Column("writer", String(32), nullable=False),
    Column("model", String(128)),
    Column("created_at", Timestamp, nullable=False),
    # Drafts the chosen writer was asked for (an LLM gets one retry), and what the
    # grounding check found, including why an LLM's story fell back to the offline one.
    Column("attempts", Integer, nullable=False, server_default="1"),
    Column("grounding", JSON),
)

delivery = Table(
    "delivery",
    metadata,
    Column("user_key", Integer, ForeignKey("dim_user.user_key"), primary_key=True),
    Column("week_start", Date, primary_key=True),
    Column("channel", String(16), primary_key=True),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("last_error", Text),
    Column("message_id", String(255)),
    Column("sent_at", Timestamp),
)

oauth_token = Table(
    "oauth_token",
    metadata,
    Column("user_key", Integer, ForeignKey("dim_user.user_key"), primary_key=True),
    Column("access_token_enc", Text, nullable=False),
    Column("refresh_token_enc", Text),
    Column("expires_at", Timestamp, nullable=False),
    Column("scope", Text),
    Column("updated_at", Timestamp, nullable=False),
)

ingest_cursor = Table(
    "ingest_cursor",
    metadata,
    Column("user_key", Integer, ForeignKey("dim_user.user_key"), primary_key=True),
    Column("source", String(16), primary_key=True),
    Column("last_played_at", Timestamp, nullable=False),
    Column("updated_at", Timestamp, nullable=False),
)

coverage_gap = Table(
    "coverage_gap",
    metadata,
    Column("gap_id", Integer, primary_key=True, autoincrement=True),
    Column("user_key", Integer, ForeignKey("dim_user.user_key"), nullable=False),
    Column("start_utc", Timestamp, nullable=False),
    Column("end_utc", Timestamp, nullable=False),
    Column("reason", Text, nullable=False),
    Column("detected_at", Timestamp, nullable=False),
    Index("ix_coverage_gap_user_start", "user_key", "start_utc"),
)

# A source that asked to be left alone (Spotify's 429 Retry-After can be hours) is
# not asked again before `not_before`, even by the next cron run.
poll_backoff = Table(
    "poll_backoff",
    metadata,
    Column("user_key", Integer, ForeignKey("dim_user.user_key"), primary_key=True),
    Column("source", String(16), primary_key=True),
    Column("not_before", Timestamp, nullable=False),
    Column("reason", Text, nullable=False),
)

# Every Spotify lookup enrichment made, found or not, so no entity is fetched twice.
spotify_lookup = Table(
    "spotify_lookup",
    metadata,
    Column("entity", String(8), primary_key=True),
    Column("entity_key", KEY, primary_key=True),
    Column("spotify_id", String(64)),
    Column("outcome", String(16), nullable=False),
    Column("looked_up_at", Timestamp, nullable=False),
)

import_job = Table(
    "import_job",
    metadata,
    Column("job_id", Integer, primary_key=True, autoincrement=True),
    Column("user_key", Integer, ForeignKey("dim_user.user_key"), nullable=False),
    Column("source_path", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("files_total", Integer, nullable=False, server_default="0"),
    Column("files_done", JSON),
    Column("rows_read", BigInteger, nullable=False, server_default="0"),
    Column("plays_added", BigInteger, nullable=False, server_default="0"),
    Column("duplicates", BigInteger, nullable=False, server_default="0"),
    Column("skipped", JSON),
    Column("error", Text),
    Column("started_at", Timestamp, nullable=False),
    Column("finished_at", Timestamp),
)

quarantine = Table(
    "quarantine",
    metadata,
    Column("quarantine_id", Integer, primary_key=True, autoincrement=True),
    Column("received_at", Timestamp, nullable=False),
    Column("stage", String(32), nullable=False),
    Column("reason", Text, nullable=False),
    Column("user_key", Integer),
    Column("event_id", String(64)),
    # The raw row, cut to its first 64 KiB when longer; its whole size (UTF-8) and hash.
    Column("payload", Text, nullable=False),
    Column("payload_bytes", BigInteger, nullable=False),
    Column("payload_sha256", String(64), nullable=False),
)
# A bad row quarantined again (the same files imported twice, a topic replayed) is kept once:
# one row per stage, user and raw row, and per stage and raw row where the user is unknown.
Index(
    "uq_quarantine_row",
    quarantine.c.stage,
    quarantine.c.user_key,
    quarantine.c.payload_sha256,
    unique=True,
)
Index(
    "uq_quarantine_row_without_user",
    quarantine.c.stage,
    quarantine.c.payload_sha256,
    unique=True,
    sqlite_where=quarantine.c.user_key.is_(None),
    postgresql_where=quarantine.c.user_key.is_(None),
)

__all__ = [
    "metadata",
    "dim_user",
    "dim_artist",
    "dim_album",
    "dim_track",
    "bridge_track_artist",
    "dim_spelling",
    "dim_date",
    "fact_play",
    "fact_play_merged",
    "recap",
    "delivery",
    "oauth_token",
    "ingest_cursor",
    "coverage_gap",
    "poll_backoff",
    "spotify_lookup",
    "import_job",
    "quarantine",
]

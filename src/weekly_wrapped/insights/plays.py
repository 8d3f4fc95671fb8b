"""A user's plays, one page at a time, in the order they ended: what `/api/v1/plays` lists.

Pages are keyed by the last play shown (its end time and id), never by an offset,
so a page stays cheap however deep it is and plays arriving meanwhile are not
shown twice.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Connection, and_, func, or_, select

from weekly_wrapped.errors import TerminalError
from weekly_wrapped.warehouse.queries import as_utc
from weekly_wrapped.warehouse.schema import dim_spelling, fact_play
from weekly_wrapped.weeks import date_key, week_date_keys


class InvalidCursor(TerminalError):
    """A page cursor that this service did not hand out."""

    hint = "Use the next_cursor of the previous page as it was given, or leave cursor out."


@dataclass(frozen=True)
class PlayLine:
    """One play as listed: when it ended, what it was, how long it played."""

    play_id: str
    played_at: datetime
    track: str
    artist: str
    album: str | None
    ms_played: int
    ms_played_estimated: bool
    source: str
    kind: str
    skipped: bool | None
    incognito: bool


def encode_cursor(played_at: datetime, play_id: str) -> str:
    """The opaque cursor after a play."""
    raw = f"{as_utc(played_at).isoformat()}|{play_id}".encode()
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        moment, play_id = raw.split("|", 1)
        return as_utc(datetime.fromisoformat(moment)), play_id
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidCursor(f"not a cursor of this API: {cursor[:40]!r}") from None


def list_plays(
    conn: Connection, user_key: int, first: date, end: date, after: str | None, limit: int
) -> tuple[list[PlayLine], str | None]:
    """The user's plays that ended on local days `first` ≤ day < `end`; and the next cursor."""
    where = [
        fact_play.c.user_key == user_key,
        fact_play.c.local_date_key >= date_key(first),
        fact_play.c.local_date_key < date_key(end),
    ]
    if after is not None:
        at, play_id = decode_cursor(after)
        where.append(
            or_(
                fact_play.c.played_at_utc > at,
                and_(fact_play.c.played_at_utc == at, fact_play.c.play_id > play_id),
            )
        )
    rows = conn.execute(
        select(
            fact_play.c.play_id,
            fact_play.c.played_at_utc,
            dim_spelling.c.track_name,
            dim_spelling.c.artist_name,
            dim_spelling.c.album_name,
            fact_play.c.ms_played,
            fact_play.c.ms_played_estimated,
            fact_play.c.source,
            fact_play.c.kind,
            fact_play.c.skipped,
            fact_play.c.incognito,
        )  # fmt: skip
        .join(dim_spelling, dim_spelling.c.spelling_key == fact_play.c.spelling_key)
        .where(*where)
        .order_by(fact_play.c.played_at_utc, fact_play.c.play_id)
        .limit(limit + 1)
    ).all()
    lines = [PlayLine(r[0], as_utc(r[1]), *r[2:]) for r in rows[:limit]]
    more = len(rows) > limit
    return lines, encode_cursor(lines[-1].played_at, lines[-1].play_id) if more else None


def week_mark(conn: Connection, user_key: int, week_start: date) -> tuple[int, datetime | None]:
    """How many plays the user's week holds and when the latest ended: a new play changes it."""
    first, end = week_date_keys(week_start)
    row = conn.execute(
        select(func.count(), func.max(fact_play.c.played_at_utc)).where(
            fact_play.c.user_key == user_key,
            fact_play.c.local_date_key >= first,
            fact_play.c.local_date_key < end,
        )
    ).one()
    return int(row[0]), None if row[1] is None else as_utc(row[1])

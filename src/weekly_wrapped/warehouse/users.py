"""Users of the warehouse: add, look up, list."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Connection, bindparam, insert, select, update

from weekly_wrapped.errors import TerminalError, UnknownUser
from weekly_wrapped.rows import Rows, date_row, local_slot
from weekly_wrapped.warehouse.queries import as_utc
from weekly_wrapped.warehouse.schema import dim_user, fact_play
from weekly_wrapped.warehouse.writer import write_rows

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]+")
"""C0 and C1 control characters and DEL: they may end an email header or steer a terminal."""
NAME_MAX = 200
EMAIL_MAX = 320


class InvalidUser(TerminalError):
    """A user's details are not acceptable."""


@dataclass(frozen=True)
class User:
    user_key: int
    display_name: str
    email: str | None
    timezone: str
    weekly_email: bool
    auth_status: str
    spotify_user_id: str | None
    created_at: datetime


def check_timezone(name: str) -> str:
    """Return `name` if it is an IANA timezone, else raise naming it."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidUser(
            f"unknown timezone {name!r}",
            hint="Use an IANA name such as Europe/Berlin, America/New_York or UTC.",
        ) from None
    return name


def clean_name(name: str) -> str:
    """`name` without control characters: a line break or tab becomes a space, the rest go."""
    return _CONTROLS.sub(_space_or_nothing, name).strip()


def _space_or_nothing(found: re.Match[str]) -> str:
    return " " if any(c.isspace() for c in found[0]) else ""


def check_name(name: str) -> str:
    """`name` cleaned of control characters; refused when nothing is left, or too long."""
    cleaned = clean_name(name)
    if not cleaned:
        raise InvalidUser("a user needs a name", hint="Give one with --name, e.g. --name Ada.")
    if len(cleaned) > NAME_MAX:
        raise InvalidUser(f"a name has at most {NAME_MAX} characters, this one {len(cleaned)}")
    return cleaned


def check_email(address: str | None) -> str | None:
    """`address` if it looks like an email address; None for none. Refused with the reason."""
    if address is None or address == "":
        return None
    if _CONTROLS.search(address):
        raise InvalidUser(f"not an email address: {address!r} (it has control characters)")
    if not _EMAIL.match(address) or len(address) > EMAIL_MAX:
        raise InvalidUser(f"not an email address: {address!r}")
    return address


def add_user(
    conn: Connection,
    *,
    name: str,
    email: str | None = None,
    timezone: str = "UTC",
    weekly_email: bool = True,
    spotify_user_id: str | None = None,
) -> int:
    """Create a user and return its id; control characters in `name` are dropped."""
    result = conn.execute(
        insert(dim_user).values(
            display_name=check_name(name),
            email=check_email(email),
            timezone=check_timezone(timezone),
            weekly_email=weekly_email,
            spotify_user_id=spotify_user_id,
            auth_status="none",
            created_at=datetime.now(UTC),
        )
    )
    key = result.inserted_primary_key
    assert key is not None  # noqa: S101 - an autoincrement insert always has one
    return int(key[0])


def get_user(conn: Connection, user_key: int) -> User:
    row = conn.execute(select(dim_user).where(dim_user.c.user_key == user_key)).one_or_none()
    if row is None:
        raise UnknownUser(f"no user with id {user_key}")
    return User(**row._mapping)


def list_users(conn: Connection) -> list[User]:
    rows = conn.execute(select(dim_user).order_by(dim_user.c.user_key))
    return [User(**row._mapping) for row in rows]


def update_user(
    conn: Connection,
    user_key: int,
    *,
    name: str | None = None,
    email: str | None = None,
    weekly_email: bool | None = None,
    timezone: str | None = None,
) -> User:
    """Change a user's details; a new timezone moves their plays to their new local days."""
    user = get_user(conn, user_key)
    changes: dict[str, object] = {}
    if name is not None:
        changes["display_name"] = check_name(name)
    if email is not None:
        changes["email"] = check_email(email)
    if weekly_email is not None:
        changes["weekly_email"] = weekly_email
    if timezone is not None and timezone != user.timezone:
        changes["timezone"] = check_timezone(timezone)
    if changes:
        conn.execute(update(dim_user).where(dim_user.c.user_key == user_key).values(**changes))
    if "timezone" in changes:
        relocate_plays(conn, user_key, timezone or "UTC")
    return get_user(conn, user_key)


def relocate_plays(conn: Connection, user_key: int, timezone: str, batch: int = 20_000) -> int:
    """Recompute `local_date_key`/`local_hour` of a user's plays for a new timezone.

    SQLite has no time zones, so local days are stored with each play; this keeps
    the weekly stats honest after a move.
    """
    zone = ZoneInfo(timezone)
    moved, after = 0, ""
    while chunk := conn.execute(
        select(fact_play.c.play_id, fact_play.c.played_at_utc)
        .where(fact_play.c.user_key == user_key, fact_play.c.play_id > after)
        .order_by(fact_play.c.play_id)
        .limit(batch)
    ).all():
        slots = [(p.play_id, *local_slot(as_utc(p.played_at_utc), zone)) for p in chunk]
        days = {date_key: date_row(_day(date_key)) for _, date_key, _ in slots}
        write_rows(conn, Rows(dates=days))
        conn.execute(
            update(fact_play)
            .where(fact_play.c.play_id == bindparam("pid"))
            .values(local_date_key=bindparam("day"), local_hour=bindparam("hour")),
            [{"pid": pid, "day": day, "hour": hour} for pid, day, hour in slots],
        )
        moved += len(chunk)
        after = chunk[-1].play_id
    return moved


def _day(date_key: int) -> date:
    return date(date_key // 10000, date_key // 100 % 100, date_key % 100)

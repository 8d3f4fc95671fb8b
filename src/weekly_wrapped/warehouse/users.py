"""Users of the warehouse: add, look up, list."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Connection, insert, select

from weekly_wrapped.errors import TerminalError, UnknownUser
from weekly_wrapped.warehouse.schema import dim_user

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


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


def check_email(address: str | None) -> str | None:
    if address is None or address == "":
        return None
    if not _EMAIL.match(address):
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
    """Create a user and return its id."""
    if not name.strip():
        raise InvalidUser("a user needs a name")
    result = conn.execute(
        insert(dim_user).values(
            display_name=name.strip(),
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

"""OAuth tokens, kept in `oauth_token` encrypted with Fernet under WRAPPED_SECRET_KEY.

The database never holds a token in plain text, and a `Token` never prints one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import Connection, select

from weekly_wrapped import keys
from weekly_wrapped.config import Settings
from weekly_wrapped.sources.spotify.errors import LOGIN_HINT, TokenUnreadable
from weekly_wrapped.warehouse.queries import as_utc
from weekly_wrapped.warehouse.schema import oauth_token
from weekly_wrapped.warehouse.upsert import upsert

REFRESH_MARGIN = timedelta(seconds=60)
"""Refresh this long before expiry, so a token never runs out mid-request."""


@dataclass(frozen=True)
class Token:
    """A user's grant: the access token, the refresh token and when the access token ends."""

    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    expires_at: datetime
    scope: str = ""

    def needs_refresh(self, now: datetime) -> bool:
        return now >= self.expires_at - REFRESH_MARGIN


def cipher(settings: Settings) -> Fernet:
    """The Fernet cipher for tokens (see `weekly_wrapped.keys`)."""
    return keys.fernet(settings)


def save_token(
    conn: Connection, fernet: Fernet, user_key: int, token: Token, now: datetime
) -> None:
    """Store (or replace) a user's tokens, encrypted."""
    refresh = token.refresh_token
    upsert(
        conn,
        oauth_token,
        {
            "user_key": user_key,
            "access_token_enc": fernet.encrypt(token.access_token.encode()).decode("ascii"),
            "refresh_token_enc": None
            if refresh is None
            else fernet.encrypt(refresh.encode()).decode("ascii"),
            "expires_at": token.expires_at,
            "scope": token.scope,
            "updated_at": now,
        },
        keys=("user_key",),
    )


def load_tokens(
    conn: Connection, fernet: Fernet, user_keys: Iterable[int]
) -> dict[int, Token | TokenUnreadable]:
    """Each user's decrypted tokens; a token the key cannot open comes back as the error."""
    keys = sorted(set(user_keys))
    if not keys:
        return {}
    rows = conn.execute(select(oauth_token).where(oauth_token.c.user_key.in_(keys)))
    found: dict[int, Token | TokenUnreadable] = {}
    for row in rows:
        try:
            found[row.user_key] = Token(
                _decrypt(fernet, row.access_token_enc),
                None if row.refresh_token_enc is None else _decrypt(fernet, row.refresh_token_enc),
                as_utc(row.expires_at),
                row.scope or "",
            )
        except InvalidToken:
            found[row.user_key] = TokenUnreadable(
                f"the stored Spotify token of user {row.user_key} cannot be decrypted with "
                "this WRAPPED_SECRET_KEY (was the key changed?)",
                hint=LOGIN_HINT.format(user=row.user_key),
            )
    return found


def _decrypt(fernet: Fernet, stored: str) -> str:
    return fernet.decrypt(stored.encode("ascii")).decode()

"""What every request of one app shares: settings, the engine, the clock, uploads in flight."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from flask import Flask, current_app, g
from sqlalchemy import Connection, Engine

from weekly_wrapped.config import Settings
from weekly_wrapped.keys import secret_key

if TYPE_CHECKING:
    from weekly_wrapped.web.uploads import Uploads

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class WebState:
    """The app's own state, kept in ``app.extensions["wrapped"]``."""

    settings: Settings
    engine: Engine
    uploads: Uploads
    clock: Clock = utcnow
    allowed: frozenset[str] = field(default_factory=frozenset)
    """Spotify user ids allowed to log in; empty: anyone."""


def web_state() -> WebState:
    """The state of the app handling this request."""
    state: WebState = current_app.extensions["wrapped"]
    return state


def request_conn() -> Connection:
    """The request's one database connection, opened on first use and closed when it ends.

    The login check and the view share it: one checkout (and its liveness ping) per request.
    """
    if "conn" not in g:
        g.conn = web_state().engine.connect()
    conn: Connection = g.conn
    return conn


def close_request_conn(app: Flask) -> None:
    """Close each request's connection, if it opened one, when the request ends."""

    @app.teardown_appcontext
    def close(_exc: BaseException | None) -> None:
        conn = g.pop("conn", None)
        if conn is not None:
            conn.close()


def derived_key(settings: Settings, purpose: str) -> bytes:
    """A key for one purpose (the session cookie), derived from the one secret key."""
    return hmac.new(secret_key(settings), purpose.encode(), hashlib.sha256).digest()


def allowed_ids(settings: Settings) -> frozenset[str]:
    """WRAPPED_WEB_ALLOWED_SPOTIFY_IDS as a set."""
    return frozenset(i.strip() for i in settings.web_allowed_spotify_ids.split(",") if i.strip())

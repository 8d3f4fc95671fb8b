"""A lapsed Spotify grant: the user is marked, and a reconnect email is owed.

The poller and the enricher only record the lapse. The email itself is delivery's
to send (`delivery.reconnect`), through the delivery ledger keyed by the week the
grant lapsed, so however many polls notice the lapse, the user hears about it once.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from weekly_wrapped.sources.spotify.state import owe_reconnect, set_auth_status
from weekly_wrapped.warehouse.users import User, get_user

log = logging.getLogger(__name__)


def lapse_week(user: User, now: datetime) -> date:
    """The Monday, in the user's timezone, of the week their grant lapsed."""
    local = now.astimezone(ZoneInfo(user.timezone)).date()
    return local - timedelta(days=local.weekday())


def lapse(engine: Engine, user_key: int, error: Exception, now: datetime) -> str:
    """The user's grant is gone: stop polling them and owe them one email; say which.

    Both happen in one transaction, so a lapse is never recorded without its email.
    """
    with engine.connect() as conn:
        user = get_user(conn, user_key)
    week_start = lapse_week(user, now)
    with engine.begin() as conn:
        set_auth_status(conn, user_key, "reauth_needed")
        if user.email:
            owe_reconnect(conn, user_key, week_start)
    note = "reconnect email due" if user.email else _NO_EMAIL
    log.warning("user %s: %s; polling stops; %s", user_key, error, note)
    return note


_NO_EMAIL = "no email address on file, so no reconnect email can be sent"

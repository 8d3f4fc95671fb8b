"""The one "please reconnect Spotify" email a user gets when their grant lapses.

It goes through the delivery ledger keyed by the week the grant lapsed, so however
many polls notice the lapse, the user hears about it once.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from weekly_wrapped.config import Settings
from weekly_wrapped.delivery.mailer import deliver
from weekly_wrapped.errors import WrappedError
from weekly_wrapped.sources.spotify.state import RECONNECT, set_auth_status
from weekly_wrapped.warehouse.users import User, get_user

log = logging.getLogger(__name__)


def lapse_week(user: User, now: datetime) -> date:
    """The Monday, in the user's timezone, of the week their grant lapsed."""
    local = now.astimezone(ZoneInfo(user.timezone)).date()
    return local - timedelta(days=local.weekday())


def reconnect_message(settings: Settings, user: User) -> EmailMessage:
    """The email itself: what happened, what it costs them, and the one command that fixes it."""
    assert user.email is not None  # noqa: S101 - callers check
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = user.email
    message["Subject"] = "Please reconnect Spotify to Weekly Wrapped"
    message.set_content(
        f"Hi {user.display_name},\n\n"
        "Spotify no longer accepts Weekly Wrapped's access to your listening history. "
        "This happens when the access you gave expires (Spotify ends it after six months) "
        "or when it is removed in your Spotify account settings.\n\n"
        "Until you reconnect, new plays are not collected and your weekly recaps will "
        "have gaps. To reconnect, log in again:\n\n"
        f"    wrapped login --user {user.user_key}\n\n"
        "(or ask whoever runs Weekly Wrapped for you to do it).\n\n"
        "You get this email once; nothing else needs to be done.\n"
    )
    return message


def send_reconnect(engine: Engine, settings: Settings, user: User, week_start: date) -> str:
    """Send (once) the reconnect email for the lapse in `week_start`; say what happened."""
    if not user.email:
        return "no email address on file, so no reconnect email could be sent"
    try:
        outcome = deliver(
            engine,
            settings,
            user.user_key,
            week_start,
            RECONNECT,
            reconnect_message(settings, user),
        )
    except WrappedError as exc:
        log.warning("reconnect email of user %s: %s", user.user_key, exc)
        return f"reconnect email not sent ({exc}); the next poll tries again"
    if outcome.result == "sent":
        return "reconnect email sent"
    if outcome.result == "skipped":
        return f"reconnect email not sent again ({outcome.detail})"
    later = "; the next poll tries again" if outcome.status in ("queued", "deferred") else ""
    return f"reconnect email not sent ({outcome.detail}){later}"


def lapse(
    engine: Engine, settings: Settings, user_key: int, error: Exception, now: datetime
) -> str:
    """The user's grant is gone: tell them once, and stop polling them; say what was sent.

    The email goes first: if we stop in between, the next poll sees the lapse again,
    and the ledger keeps the email to one.
    """
    with engine.connect() as conn:
        user = get_user(conn, user_key)
    note = send_reconnect(engine, settings, user, lapse_week(user, now))
    with engine.begin() as conn:
        set_auth_status(conn, user_key, "reauth_needed")
    log.warning("user %s: %s; polling stops; %s", user_key, error, note)
    return note

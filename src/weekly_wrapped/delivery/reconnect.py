"""The one "please reconnect Spotify" email a user gets when their grant lapses.

The poller (or the enricher) records the lapse and owes the email: a ``queued``
row of the delivery ledger, keyed by the week the grant lapsed. Delivery sends
what is owed, from the top: `poll` runs a polling round and then sends, so
however many polls notice the lapse, the user hears about it once.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from email.message import EmailMessage

from sqlalchemy import Connection, Engine, select

from weekly_wrapped.config import Settings
from weekly_wrapped.delivery.mailer import deliver
from weekly_wrapped.errors import WrappedError
from weekly_wrapped.sources.spotify import poller
from weekly_wrapped.sources.spotify.state import RECONNECT
from weekly_wrapped.warehouse.schema import delivery, dim_user
from weekly_wrapped.warehouse.users import User, get_user

log = logging.getLogger(__name__)


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


def poll(
    engine: Engine, settings: Settings, user_keys: Sequence[int] | None = None
) -> poller.PollReport:
    """One polling round, then the reconnect emails owed (`wrapped poll`)."""
    return with_reconnects(engine, settings, poller.poll(engine, settings, user_keys))


def with_reconnects(
    engine: Engine, settings: Settings, report: poller.PollReport
) -> poller.PollReport:
    """Send the reconnect emails owed, and note on each user's outcome what was sent."""
    notes = send_owed(engine, settings)
    report.outcomes = [
        replace(o, message=f"{o.message} ({notes[o.user_key]})") if o.user_key in notes else o
        for o in report.outcomes
    ]
    return report


def send_owed(engine: Engine, settings: Settings) -> dict[int, str]:
    """Send every reconnect email still owed to a user who has not logged in again.

    Returns what happened, by user. One user's failure never stops the others'.
    """
    with engine.connect() as conn:
        owed = owed_reconnects(conn)
        users = {user_key: get_user(conn, user_key) for user_key, _ in owed}
    notes: dict[int, str] = {}
    for user_key, week_start in owed:
        try:
            notes[user_key] = send_reconnect(engine, settings, users[user_key], week_start)
        except Exception as exc:  # one user's email must not stop everyone's
            log.warning("user %s: reconnect email: %s", user_key, exc)
            notes[user_key] = f"reconnect email not sent ({exc}); the next poll tries again"
    return notes


def owed_reconnects(conn: Connection) -> list[tuple[int, date]]:
    """Reconnect emails still owed to users who have not logged in again."""
    rows = conn.execute(
        select(delivery.c.user_key, delivery.c.week_start)
        .join(dim_user, dim_user.c.user_key == delivery.c.user_key)
        .where(
            delivery.c.channel == RECONNECT,
            delivery.c.status.in_(("queued", "deferred")),
            dim_user.c.auth_status == "reauth_needed",
        )
    )
    return [(row.user_key, row.week_start) for row in rows]

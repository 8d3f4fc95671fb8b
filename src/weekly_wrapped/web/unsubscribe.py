"""Unsubscribing through the email's signed link: a page to confirm, and RFC 8058's one-click POST.

The link's signature (`delivery.signing`) is the only proof needed: no login, no
CSRF token, since a mail client's one-click POST carries neither. A GET never
unsubscribes by itself, because link scanners open every link in an email.
"""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request

from weekly_wrapped.delivery.signing import check_unsubscribe_token
from weekly_wrapped.errors import UnknownUser
from weekly_wrapped.keys import secret_key
from weekly_wrapped.warehouse.users import User, get_user, update_user
from weekly_wrapped.web.state import web_state

bp = Blueprint("unsubscribe", __name__)
USER_ID_MAX = 2**31 - 1


@bp.get("/unsubscribe")
def confirm() -> str:
    """Who the link is for, and a button that turns their weekly email off."""
    user = _signed_user()
    return render_template("unsubscribe.html", person=user, done=False, user=None)


@bp.post("/unsubscribe")
def one_click() -> str:
    """Turn the weekly email off: the confirm button, or a mail client's one-click POST."""
    user = _signed_user()
    with web_state().engine.begin() as conn:
        update_user(conn, user.user_key, weekly_email=False)
    return render_template("unsubscribe.html", person=user, done=True, user=None)


def _signed_user() -> User:
    """The user the link was signed for; 404 for any link we did not sign."""
    text, token = request.args.get("user", ""), request.args.get("token", "")
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= USER_ID_MAX or not token:
        abort(404, "This unsubscribe link is not valid.")
    key = secret_key(web_state().settings)
    if not check_unsubscribe_token(key, int(text), token):
        abort(404, "This unsubscribe link is not valid.")
    try:
        with web_state().engine.connect() as conn:
            return get_user(conn, int(text))
    except UnknownUser:
        abort(404, "This unsubscribe link is not valid.")

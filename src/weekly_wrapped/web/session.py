"""Who is logged in: the user id in the signed session cookie, and the guards on views."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

from flask import abort, g, redirect, request, session, url_for
from werkzeug.wrappers import Response

from weekly_wrapped.errors import UnknownUser
from weekly_wrapped.warehouse.users import User, get_user
from weekly_wrapped.web.state import request_conn

P = ParamSpec("P")
R = TypeVar("R")
USER = "user_key"


def current_user() -> User | None:
    """The logged-in user, read once per request; None when nobody is (or they were removed)."""
    if "user" not in g:
        g.user = _load_user()
    user: User | None = g.user
    return user


def _load_user() -> User | None:
    user_key = session.get(USER)
    if not isinstance(user_key, int):
        return None
    try:
        return get_user(request_conn(), user_key)
    except UnknownUser:
        session.clear()
        return None


def log_in(user_key: int) -> None:
    """Start a fresh session for `user_key` (a new cookie: nothing from before login carries over)."""
    session.clear()
    session.permanent = True
    session[USER] = user_key
    g.pop("user", None)


def login_required(view: Callable[P, R]) -> Callable[P, R | Response]:
    """Pages: send a visitor to the login page. The API: 401."""

    @wraps(view)
    def guarded(*args: P.args, **kwargs: P.kwargs) -> R | Response:
        if current_user() is None:
            if request.path.startswith("/api/"):
                abort(401, "Log in first: this API answers the logged-in user's own data.")
            return redirect(url_for("auth.login", next=request.path))
        return view(*args, **kwargs)

    return guarded


def me() -> User:
    """The logged-in user, inside a `login_required` view."""
    user = current_user()
    assert user is not None  # noqa: S101 - login_required let the request in
    return user

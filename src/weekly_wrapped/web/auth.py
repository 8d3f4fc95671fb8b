"""Logging in with Spotify (PKCE and state, through `sources.spotify.oauth`), first-login
details, and logging out."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from weekly_wrapped.sources.spotify.client import SpotifyClient
from weekly_wrapped.sources.spotify.errors import LoginFailed
from weekly_wrapped.sources.spotify.login import connect_user
from weekly_wrapped.sources.spotify.oauth import (
    AuthorizationRequest,
    code_from_callback,
    exchange_code,
    start_authorization,
)
from weekly_wrapped.sources.spotify.tokens import cipher
from weekly_wrapped.warehouse.users import InvalidUser, update_user
from weekly_wrapped.web.session import current_user, log_in, login_required, me
from weekly_wrapped.web.state import web_state

bp = Blueprint("auth", __name__)
PENDING = "oauth_pending"


@bp.get("/login")
def login() -> str | Response:
    """The login page: one button that goes to Spotify."""
    if current_user() is not None:
        return redirect(url_for("dashboard.home"))
    return render_template("login.html", next=_safe_next(request.args.get("next")))


@bp.post("/login")
def start() -> Response:
    """Send the browser to Spotify, remembering this login's state and PKCE verifier."""
    state = web_state()
    cipher(state.settings)  # no point going to Spotify if the tokens cannot be kept
    pending = start_authorization(state.settings)
    session[PENDING] = {
        "state": pending.state,
        "verifier": pending.code_verifier,
        "redirect": pending.redirect_uri,
        "next": _safe_next(request.form.get("next")),
    }
    return redirect(pending.url)


@bp.get("/auth/callback")
@bp.get("/callback")
def callback() -> Response:
    """Spotify's answer: check the state, trade the code for tokens, connect the user."""
    pending = session.pop(PENDING, None)
    if not isinstance(pending, dict):
        raise LoginFailed(
            "no login is in progress in this browser: start again from the login page"
        )
    request_ = AuthorizationRequest("", pending["redirect"], pending["state"], pending["verifier"])
    code = code_from_callback(request_, request.args.to_dict())
    state = web_state()
    client = SpotifyClient(state.settings, clock=state.clock)
    try:
        token = exchange_code(client, request_, code, state.clock())
        profile = client.me(token.access_token)
    finally:
        client.close()
    if state.allowed and profile.get("id") not in state.allowed:
        abort(403, "This Spotify account is not on this server's list of allowed users.")
    with state.engine.begin() as conn:
        connected = connect_user(conn, cipher(state.settings), profile, token, None, state.clock)
    log_in(connected.user_key)
    if me().email is None:
        return redirect(url_for("auth.welcome"))
    return redirect(pending.get("next") or url_for("dashboard.home"))


@bp.route("/welcome", methods=["GET", "POST"])
@login_required
def welcome() -> tuple[str, int] | Response:
    """The first login's questions: email, timezone (the browser's, prefilled) and opt-in."""
    error = None
    if request.method == "POST":
        error = save_details(first=True)
        if error is None:
            return redirect(url_for("dashboard.home"))
    return render_template("welcome.html", user=me(), error=error), 400 if error else 200


def save_details(*, first: bool) -> str | None:
    """Save the details form; the problem, in words, when a value is refused."""
    email = request.form.get("email", "").strip()
    wants_email = request.form.get("weekly_email") == "on"
    if first and wants_email and not email:
        return "Give an email address for the weekly recap, or untick it."
    try:
        with web_state().engine.begin() as conn:
            update_user(
                conn,
                me().user_key,
                email=email,
                timezone=request.form.get("timezone", "").strip() or "UTC",
                weekly_email=wants_email,
            )
    except InvalidUser as exc:
        return f"{exc}. {exc.hint or ''}".strip()
    return None


@bp.post("/logout")
def logout() -> Response:
    session.clear()
    return redirect(url_for("auth.login"))


def _safe_next(target: str | None) -> str | None:
    """Only paths on this site: never an address elsewhere (an open redirect)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return None

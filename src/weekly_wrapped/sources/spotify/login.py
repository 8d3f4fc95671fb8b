"""Logging a user in: the browser goes to Spotify, a one-shot loopback server catches the callback.

`finish_login` is the part the web service shares: callback → tokens → profile →
user row and encrypted tokens, in one transaction.
"""

from __future__ import annotations

import socket
import time
import webbrowser
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cryptography.fernet import Fernet
from sqlalchemy import Connection, Engine, select, update

from weekly_wrapped.config import Settings
from weekly_wrapped.sources.spotify import state
from weekly_wrapped.sources.spotify.client import Clock, SpotifyClient, utcnow
from weekly_wrapped.sources.spotify.errors import (
    LoginFailed,
    SpotifyNotConfigured,
)
from weekly_wrapped.sources.spotify.oauth import (
    AuthorizationRequest,
    RedirectTarget,
    code_from_callback,
    exchange_code,
    redirect_target,
    start_authorization,
)
from weekly_wrapped.sources.spotify.tokens import Token, cipher, save_token
from weekly_wrapped.warehouse.schema import dim_user
from weekly_wrapped.warehouse.users import add_user, get_user

LOGIN_TIMEOUT_S = 300.0

_DONE_PAGE = (
    "<!doctype html><meta charset=utf-8><title>Weekly Wrapped</title>"
    "<p>Spotify answered. You can close this tab and go back to the terminal.</p>"
)


@dataclass(frozen=True)
class Connected:
    """The user a login connected."""

    user_key: int
    display_name: str
    spotify_user_id: str
    created: bool


class _Loopback6(HTTPServer):
    address_family = socket.AF_INET6


class CallbackServer:
    """A one-shot HTTP server on the redirect URI's loopback address.

    It binds as soon as it is made, so a busy port fails before any browser opens,
    and it answers the first request to the callback path, then stops.
    """

    def __init__(self, request: AuthorizationRequest) -> None:
        target = redirect_target(request.redirect_uri)
        if not target.loopback:
            raise SpotifyNotConfigured(
                "`wrapped login` catches Spotify's answer on this machine, so "
                "WRAPPED_SPOTIFY_REDIRECT_URI must be a loopback address such as "
                "http://127.0.0.1:8765/callback"
            )
        self.request = request
        self.target = target
        self.query: dict[str, str] | None = None
        self.refusal: LoginFailed | None = None
        self._server = self._bind(target)

    def _bind(self, target: RedirectTarget) -> HTTPServer:
        server_class = _Loopback6 if ":" in target.host else HTTPServer
        try:
            return server_class((target.host, target.port), _callback_handler(self))
        except OSError as exc:
            raise LoginFailed(
                f"cannot listen on {target.host}:{target.port} for Spotify's callback: "
                f"{exc.strerror}",
                hint="Is another `wrapped login` running? Stop it, or free that port.",
            ) from None

    def wait(self, timeout_s: float) -> str:
        """Serve until the callback arrives; return its code, or refuse it (state, denial)."""
        deadline = time.monotonic() + timeout_s
        while self.query is None and self.refusal is None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise LoginFailed(f"no answer from Spotify within {timeout_s:.0f} s")
            self._server.timeout = min(left, 1.0)
            self._server.handle_request()
        if self.refusal is not None:
            raise self.refusal
        assert self.query is not None  # noqa: S101 - the loop ends only with one of the two
        return code_from_callback(self.request, self.query)

    def check(self, query: dict[str, str]) -> bytes:
        """Judge a callback: remember it, and say in the browser what happened."""
        try:
            code_from_callback(self.request, query)
        except LoginFailed as exc:
            self.refusal = exc
            return f"<!doctype html><meta charset=utf-8><p>Login refused: {exc}</p>".encode()
        self.query = query
        return _DONE_PAGE.encode()

    def close(self) -> None:
        self._server.server_close()

    def __enter__(self) -> CallbackServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _callback_handler(owner: CallbackServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlsplit(self.path)
            if url.path != owner.target.path:
                self._send(404, b"Not found")
                return
            query = {k: v[-1] for k, v in parse_qs(url.query).items()}
            page = owner.check(query)
            self._send(200 if owner.refusal is None else 400, page)

        def _send(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the callback URL carries the authorization code: never log it

    return Handler


def login(
    engine: Engine,
    settings: Settings,
    *,
    show_url: Callable[[str], None],
    open_browser: bool = True,
    user_key: int | None = None,
    timeout_s: float = LOGIN_TIMEOUT_S,
    client: SpotifyClient | None = None,
    clock: Clock = utcnow,
) -> Connected:
    """Run the whole login: authorize URL, callback, tokens, profile, user row."""
    cipher(settings)  # no point sending anyone to Spotify if the tokens cannot be kept
    if user_key is not None:
        with engine.connect() as conn:
            get_user(conn, user_key)
    request = start_authorization(settings)
    with CallbackServer(request) as server:
        show_url(request.url)
        if open_browser:
            webbrowser.open(request.url)
        server.wait(timeout_s)
        assert server.query is not None  # noqa: S101 - `wait` returned, so it was accepted
        query = server.query
    return finish_login(
        engine, settings, request, query, user_key=user_key, client=client, clock=clock
    )


def finish_login(
    engine: Engine,
    settings: Settings,
    request: AuthorizationRequest,
    callback: Mapping[str, str],
    *,
    user_key: int | None = None,
    client: SpotifyClient | None = None,
    clock: Clock = utcnow,
) -> Connected:
    """From Spotify's callback to a connected user with stored, encrypted tokens."""
    fernet = cipher(settings)
    code = code_from_callback(request, callback)
    spotify = client or SpotifyClient(settings, clock=clock)
    token = exchange_code(spotify, request, code, clock())
    profile = spotify.me(token.access_token)
    with engine.begin() as conn:
        return connect_user(conn, fernet, profile, token, user_key, clock)


def connect_user(
    conn: Connection,
    fernet: Fernet,
    profile: Mapping[str, Any],
    token: Token,
    user_key: int | None,
    clock: Clock,
) -> Connected:
    """Create or update the user of this Spotify account, mark them ok, keep their tokens."""
    spotify_id = profile.get("id")
    if not isinstance(spotify_id, str) or not spotify_id:
        raise LoginFailed("Spotify's profile answer had no user id")
    name = profile.get("display_name") if isinstance(profile.get("display_name"), str) else None
    owner = conn.execute(
        select(dim_user.c.user_key).where(dim_user.c.spotify_user_id == spotify_id)
    ).scalar_one_or_none()
    if user_key is not None and owner not in (None, user_key):
        raise LoginFailed(
            f"Spotify account {spotify_id!r} is already connected to user {owner}",
            hint=f"Log in as user {owner} instead, or use another Spotify account.",
        )
    created = user_key is None and owner is None
    if created:
        user_key = add_user(conn, name=name or spotify_id, spotify_user_id=spotify_id)
    key = user_key if user_key is not None else owner
    assert key is not None  # noqa: S101 - one of the three branches set it
    get_user(conn, key)
    conn.execute(
        update(dim_user).where(dim_user.c.user_key == key).values(spotify_user_id=spotify_id)
    )
    state.set_auth_status(conn, key, "ok")
    state.clear_backoff(conn, key)
    save_token(conn, fernet, key, token, clock())
    return Connected(key, get_user(conn, key).display_name, spotify_id, created)

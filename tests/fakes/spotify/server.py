"""A fake Spotify on a loopback port: the accounts service and the Web API calls we use.

One server answers both: ``/authorize`` and ``/api/token`` (accounts) and ``/v1/...``
(Web API), in Spotify's wire formats. Tests drive it in-process; it also runs on its
own (``python -m tests.fakes.spotify --port P``) and then takes orders over
``/_fake/...``.

It misbehaves on request (`inject`): a 429 with any Retry-After, 5xx, slow answers,
malformed JSON; `revoke` makes refreshing fail with ``invalid_grant``, and
`removed_fields` drops fields from every answer.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.fakes.spotify.accounts import Accounts
from tests.fakes.spotify.catalog import Catalog
from tests.fakes.spotify.records import (
    Code,
    Fault,
    Grant,
    Listener,
    ManualClock,
    Play,
    Reply,
    Seen,
    api_error,
)
from tests.fakes.spotify.webapi import WebApi, bearer

__all__ = ["FakeSpotify", "ManualClock"]


class FakeSpotify(Accounts, WebApi):
    """Spotify's state and behaviour; `serve` puts it on the network."""

    def __init__(
        self,
        *,
        client_id: str = "fake-client-id",
        client_secret: str | None = None,
        redirect_uris: Iterable[str] = ("http://127.0.0.1:8765/callback",),
        catalog: Catalog | None = None,
        clock: Callable[[], datetime] | None = None,
        dev_mode: bool = True,
        rate_limit: tuple[int, float] | None = None,
        rotate_refresh_tokens: bool = True,
        latency_s: float = 0.0,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.redirect_uris = set(redirect_uris)
        self.catalog = catalog or Catalog.build()
        self.clock = clock or (lambda: datetime.now(UTC))
        self.dev_mode = dev_mode
        self.rate_limit = rate_limit
        self.rotate_refresh_tokens = rotate_refresh_tokens
        self.latency_s = latency_s
        """How long every Web API answer takes, as over the internet."""
        self.listeners: dict[str, Listener] = {}
        self.removed_fields: set[str] = set()
        self.consenting: str | None = None
        self.deny_consent = False
        self.seen: list[Seen] = []
        self.rate_limited = 0
        self._faults: list[Fault] = []
        self._codes: dict[str, Code] = {}
        self._access: dict[str, Grant] = {}
        self._refresh: dict[str, Grant] = {}
        self._recent: deque[float] = deque()
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None

    # --- what tests (and /_fake) use -----------------------------------------------

    def add_listener(self, user_id: str, display_name: str | None = None) -> Listener:
        with self._lock:
            listener = Listener(user_id, display_name or user_id.title())
            self.listeners[user_id] = listener
            self.consenting = self.consenting or user_id
            return listener

    def listen(
        self,
        user_id: str,
        track_id: str,
        played_at: datetime,
        context: dict[str, Any] | None = None,
    ) -> Play:
        """Record that the user finished playing a track at `played_at`."""
        with self._lock:
            play = Play(track_id, played_at.astimezone(UTC), context)
            plays = self.listeners[user_id].plays
            plays.append(play)
            plays.sort(key=lambda p: p.played_at)
            return play

    def consent_as(self, user_id: str) -> None:
        """The user who approves the next authorize request."""
        self.consenting = user_id

    def inject(self, path: str, **fault: Any) -> Fault:
        """Misbehave on matching requests; see `Fault`."""
        with self._lock:
            made = Fault(path, **fault)
            self._faults.append(made)
            return made

    def revoke(self, user_id: str) -> None:
        """The user's grant is gone: refreshing now fails with ``invalid_grant``."""
        with self._lock:
            for table in (self._refresh, self._access):
                for token in [t for t, g in table.items() if g.user == user_id]:
                    del table[token]

    def expire_access_tokens(self) -> None:
        with self._lock:
            for grant in self._access.values():
                grant.expires_at = self.clock() - timedelta(seconds=1)

    def tokens_issued(self) -> set[str]:
        """Every access and refresh token handed out that is still valid."""
        with self._lock:
            return set(self._access) | set(self._refresh)

    def requests_to(self, path: str, user: str | None = None) -> int:
        return sum(1 for s in self.seen if s.path.startswith(path) and user in (None, s.user))

    # --- the network -----------------------------------------------------------------

    def serve(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Start answering in a background thread; return the base URL."""
        server = ThreadingHTTPServer((host, port), _handler_for(self))
        server.daemon_threads = True
        self._server = server
        threading.Thread(
            target=server.serve_forever, args=(0.05,), name="fake-spotify", daemon=True
        ).start()
        return self.base_url

    @property
    def base_url(self) -> str:
        assert self._server is not None, "call serve() first"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def api_url(self) -> str:
        return self.base_url + "/v1"

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeSpotify:
        if self._server is None:
            self.serve()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- answering -------------------------------------------------------------------

    def answer(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Reply:
        """The reply to one HTTP request; faults and the rate limit apply first."""
        url = urlsplit(target)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        user = self._user_of(url.path, headers, body)
        fault = self._take_fault(url.path, user)
        delay = (fault.delay if fault else 0.0) + (self.latency_s if url.path[:4] == "/v1/" else 0)
        if delay:
            time.sleep(delay)
        reply = self._faulty(fault) or self._limited(url.path)
        if reply is None:
            reply = self._route(method, url.path, query, headers, body)
        with self._lock:
            self.seen.append(Seen(method, url.path, user, reply.status))
        if fault is not None and fault.malformed and reply.status == 200:
            reply.raw = json.dumps(reply.body).encode()[: -max(3, len(str(reply.body)) // 3)]
        return reply

    def _route(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: bytes
    ) -> Reply:
        if path == "/authorize" and method == "GET":
            return self._authorize(query)
        if path == "/api/token" and method == "POST":
            form = {k: v[-1] for k, v in parse_qs(body.decode()).items()}
            return self._token(form, headers.get("authorization"))
        if path.startswith("/v1/") and method == "GET":
            # Spotify answers /v1/me/ as /v1/me.
            return self._api(path[3:].rstrip("/"), query, headers.get("authorization"))
        if path.startswith("/_fake/"):
            return self._control(method, path, body)
        return api_error(404, "Service not found")

    def _take_fault(self, path: str, user: str | None) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if path.startswith(fault.path) and fault.user in (None, user):
                    if fault.times is not None:
                        fault.times -= 1
                        if fault.times <= 0:
                            self._faults.remove(fault)
                    return fault
        return None

    def _faulty(self, fault: Fault | None) -> Reply | None:
        if fault is None or fault.status is None:
            return None
        headers = {} if fault.retry_after is None else {"Retry-After": str(fault.retry_after)}
        if fault.status == 429:
            return Reply(
                429, {"error": {"status": 429, "message": "API rate limit exceeded"}}, headers
            )
        return Reply(
            fault.status, {"error": {"status": fault.status, "message": "Server error"}}, headers
        )

    def _limited(self, path: str) -> Reply | None:
        """Spotify's rolling-window rate limit, over all of the app's Web API calls."""
        if self.rate_limit is None or not path.startswith("/v1/"):
            return None
        most, window = self.rate_limit
        now = time.monotonic()
        with self._lock:
            while self._recent and self._recent[0] <= now - window:
                self._recent.popleft()
            if len(self._recent) >= most:
                self.rate_limited += 1
                wait = max(1, int(self._recent[0] + window - now + 0.999))
                body = {"error": {"status": 429, "message": "API rate limit exceeded"}}
                return Reply(429, body, {"Retry-After": str(wait)})
            self._recent.append(now)
        return None

    def _user_of(self, path: str, headers: dict[str, str], body: bytes) -> str | None:
        with self._lock:
            if path.startswith("/v1/"):
                grant = self._access.get(bearer(headers.get("authorization")) or "")
                return grant.user if grant else None
            if path == "/api/token":
                form = parse_qs(body.decode(errors="replace"))
                token = (form.get("refresh_token") or [""])[-1]
                grant = self._refresh.get(token)
                return grant.user if grant else None
        return None

    # --- orders when running on its own ----------------------------------------------

    def _control(self, method: str, path: str, body: bytes) -> Reply:
        """Orders for a fake in another process; ``"user": "*"`` means every listener."""
        order = json.loads(body or b"{}")
        users = self._users_in(order)
        if path == "/_fake/listen" and method == "POST":
            count, spacing = int(order.get("count", 1)), float(order.get("spacing_s", 180))
            for user in users:
                self._listen_recently(user, count, spacing)
            return Reply(200, {u: len(self.listeners[u].plays) for u in users})
        if path == "/_fake/issue" and method == "POST":
            scope = order.get("scope", "user-read-recently-played")
            return Reply(200, {u: self._issue(u, scope, with_refresh=True) for u in users})
        if path == "/_fake/fault" and method == "POST":
            return Reply(200, vars(self.inject(**order)))
        if path == "/_fake/revoke" and method == "POST":
            for user in users:
                self.revoke(user)
            return Reply(200, {"revoked": users})
        if path == "/_fake/stats" and method == "GET":
            return Reply(200, {"requests": len(self.seen), "rate_limited": self.rate_limited})
        return api_error(404, "no such order")

    def _users_in(self, order: dict[str, Any]) -> list[str]:
        user = order.get("user") or self.consenting
        return list(self.listeners) if user == "*" else [user] if user else []

    def _listen_recently(self, user: str, count: int, spacing_s: float) -> None:
        """`count` plays of varied tracks, the last ending now."""
        tracks = self.catalog.track_list()
        start = len(self.listeners[user].plays) + sum(map(ord, user))
        for n in range(count):
            when = self.clock() - timedelta(seconds=spacing_s * (count - 1 - n))
            self.listen(user, tracks[(start + n * 7) % len(tracks)].id, when)


# --- helpers ---------------------------------------------------------------------------


def _handler_for(fake: FakeSpotify) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes; with Nagle on, each answer waits for a
        # delayed ACK (about 40 ms) that real servers do not add.
        disable_nagle_algorithm = True

        def do_GET(self) -> None:
            self._reply("GET")

        def do_POST(self) -> None:
            self._reply("POST")

        def _reply(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            reply = fake.answer(method, self.path, headers, body)
            payload = reply.raw if reply.raw is not None else json.dumps(reply.body).encode()
            self.send_response(reply.status)
            kind = (
                "application/json" if reply.raw is None or reply.body is not None else "text/plain"
            )
            self.send_header("Content-Type", f"{kind}; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # tokens travel in query strings and headers: keep them out of logs

    return Handler

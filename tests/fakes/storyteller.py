"""What the fake LLM servers write, and the HTTP plumbing both share.

A fake reads the week's facts from the prompt (the JSON between ``<stats>`` and
``</stats>``) and writes a story from them, in its own words and with its own
number formatting, so a true story is true by construction and not by copying
`insights.story`. On request it misbehaves instead: a wrong number, a name that is
not in the facts, invalid JSON, a 429, a 500, or an answer slower than any timeout.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

BEHAVIOURS = (
    "good", "wrong_number", "unknown_name", "invalid_json", "not_a_story", "429", "500",
    "timeout",
)  # fmt: skip
WRONG_NUMBER = "You also skipped 987,654 songs."
UNKNOWN_NAME = '"Imaginary Anthem" by The Nobodies played all week.'
DEFAULT_PICKS: tuple[dict[str, str], ...] = (
    {"artist": "Golden Foxes", "track": "Paper Orbit", "why": "Bright and restless, like your week."},
    {"artist": "Quiet Comets", "track": "Honey Window", "why": "For the evenings you played most."},
    {"artist": "Amber Pilots", "track": "Silver Rain", "why": "A gentle next step from your top artist."},
)  # fmt: skip
_FACTS = re.compile(r"<stats>\s*(\{.*?\})\s*</stats>", re.S)


@dataclass(frozen=True)
class Request:
    """One request the fake answered: what was asked, and what it did."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    behaviour: str


@dataclass
class Reply:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


def facts_in(text: str) -> dict[str, Any]:
    """The stats JSON a prompt carries."""
    match = _FACTS.search(text)
    if match is None:
        raise ValueError("the prompt carries no <stats> block")
    facts: dict[str, Any] = json.loads(match.group(1))
    return facts


def _one_decimal(value: float) -> str:
    rounded = Decimal(repr(abs(value))).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return f"{rounded:,.1f}".removesuffix(".0")


def _percent(share: float) -> str:
    return f"{(Decimal(repr(share)) * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP)}%"


def _clock(hour: int) -> str:
    names = {0: "midnight", 12: "noon"}
    return names.get(hour) or (f"{hour} am" if hour < 12 else f"{hour - 12} pm")


def good_story(facts: dict[str, Any], picks: list[dict[str, str]]) -> dict[str, Any]:
    """A true story of the facts, in the fake's own words."""
    artists, tracks = facts.get("top_artists") or [], facts.get("top_tracks") or []
    minutes = facts["minutes_listened"]
    summary = [f"You gave music {_one_decimal(minutes)} minutes this week, "
               f"about {_one_decimal(minutes / 60)} hours, over {facts['streams']:,} streams."]  # fmt: skip
    if artists:
        summary.append(f"{artists[0]['name']} led with {_one_decimal(artists[0]['minutes'])} "
                       f"minutes, {_percent(facts['top_artist_share'])} of your time.")  # fmt: skip
    if tracks:
        by = f" by {tracks[0]['artist']}" if tracks[0].get("artist") else ""
        summary.append(f'"{tracks[0]["name"]}"{by} was streamed {tracks[0]["streams"]:,} times.')
    if not facts["coverage"]["complete"]:
        summary.append("Some plays may be missing, so the real totals could be higher.")
    genres = [g["name"] for g in facts.get("top_genres") or []]
    highlights = []
    if facts.get("peak_hour") is not None:
        highlights.append(f"Your listening peaked around {_clock(facts['peak_hour'])}.")
    if facts.get("streak_days"):
        highlights.append(f"A streak of {facts['streak_days']:,} days with music.")
    return {
        "headline": f"{artists[0]['name']} set the tone" if artists else "A quiet week",
        "summary": " ".join(summary),
        "mood": f"A {genres[0]} kind of week, easy and unhurried." if genres
        else "A week that wandered, and that is fine.",
        "highlights": highlights,
        "recommendations": picks,
        "closing": "Same time next week?",
    }  # fmt: skip


def story_text(behaviour: str, facts: dict[str, Any], picks: list[dict[str, str]]) -> str:
    """What the model answers for a content behaviour: JSON text, or not quite."""
    story = good_story(facts, picks)
    if behaviour == "wrong_number":
        story["summary"] += " " + WRONG_NUMBER
    elif behaviour == "unknown_name":
        story["highlights"] = [UNKNOWN_NAME, *story["highlights"][:2]]
    elif behaviour == "invalid_json":
        return json.dumps(story)[:-40]
    elif behaviour == "not_a_story":
        return json.dumps({"title": story["headline"], "text": story["summary"]})
    return json.dumps(story, ensure_ascii=False)


class FakeModelServer:
    """Plumbing shared by the fakes: a loopback server, a script of behaviours, a log."""

    def __init__(self, *, api_key: str = "test-key", delay_s: float = 5.0) -> None:
        self.api_key = api_key
        self.delay_s = delay_s
        self.picks: list[dict[str, str]] = [dict(p) for p in DEFAULT_PICKS]
        self.requests: list[Request] = []
        self._script: deque[str] = deque()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    def script(self, *behaviours: str) -> None:
        """Answer the next requests this way, in order; afterwards, "good"."""
        unknown = set(behaviours) - set(BEHAVIOURS)
        if unknown:
            raise ValueError(f"unknown behaviours {sorted(unknown)}; choose from {BEHAVIOURS}")
        with self._lock:
            self._script.extend(behaviours)

    def next_behaviour(self) -> str:
        with self._lock:
            return self._script.popleft() if self._script else "good"

    def log(self, request: Request) -> None:
        with self._lock:
            self.requests.append(request)

    def answer(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        raise NotImplementedError

    # --- the network -----------------------------------------------------------------

    def serve(self) -> str:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        server.daemon_threads = True
        self._server = server
        threading.Thread(target=server.serve_forever, name="fake-llm", daemon=True).start()
        return self.url

    @property
    def url(self) -> str:
        assert self._server is not None, "call serve() first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeModelServer:
        if self._server is None:
            self.serve()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def stall(self) -> None:
        """Answer later than any client's timeout."""
        time.sleep(self.delay_s)


def json_reply(status: int, body: Any, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, json.dumps(body).encode(), {"Content-Type": "application/json",
                                                     **(headers or {})})  # fmt: skip


def _handler_for(fake: FakeModelServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            reply = fake.answer("POST", self.path, dict(self.headers.items()), body)
            try:
                self.send_response(reply.status)
                for name, value in {
                    **reply.headers,
                    "Content-Length": str(len(reply.body)),
                }.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(reply.body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up waiting: that is what a timeout test wants

        def do_GET(self) -> None:
            reply = fake.answer("GET", self.path, dict(self.headers.items()), b"")
            self.send_response(reply.status)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler

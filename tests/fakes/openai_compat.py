"""A fake OpenAI-compatible server: ``POST /v1/chat/completions`` on a loopback port.

Answers in the Chat Completions API's shapes (a ``chat.completion`` object with
choices, message, finish_reason and usage; errors as ``{"error": {message, type,
param, code}}``, a 429 with Retry-After), so the real openai SDK can be pointed at
it through WRAPPED_OPENAI_BASE_URL. `json_schema=False` makes it behave like a
local server without structured output: it refuses ``response_format`` of type
``json_schema`` with a 400, and takes ``json_object`` (JSON mode).
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any
from urllib.parse import urlsplit

from tests.fakes.storyteller import (
    FakeModelServer,
    Reply,
    Request,
    facts_in,
    json_reply,
    story_text,
)

_ERRORS = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    404: ("invalid_request_error", None),
    429: ("requests", "rate_limit_exceeded"),
    500: ("server_error", None),
}


def openai_error(status: int, message: str, headers: dict[str, str] | None = None) -> Reply:
    kind, code = _ERRORS[status]
    body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    return json_reply(status, body, headers)


class FakeOpenAI(FakeModelServer):
    """Chat completions, good or bad on request; with or without structured output."""

    def __init__(self, *, json_schema: bool = True, retry_after_s: int = 1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.json_schema = json_schema
        self.retry_after_s = retry_after_s

    def answer(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        if method != "POST" or urlsplit(path).path != "/v1/chat/completions":
            return openai_error(404, f"Unknown request URL: {method} {path}")
        if _header(headers, "authorization") != f"Bearer {self.api_key}":
            return openai_error(401, "Incorrect API key provided.")
        request = json.loads(body or b"{}")
        kind = (request.get("response_format") or {}).get("type")
        if kind == "json_schema" and not self.json_schema:
            self.log(Request(path, headers, request, "refused_schema"))
            return openai_error(400, "response_format of type json_schema is not supported")
        behaviour = self.next_behaviour()
        self.log(Request(path, headers, request, behaviour))
        if behaviour == "429":
            message = "Rate limit reached for requests. Please try again later."
            return openai_error(429, message, {"Retry-After": str(self.retry_after_s)})
        if behaviour == "500":
            return openai_error(500, "The server had an error while processing your request.")
        if behaviour == "timeout":
            self.stall()
        return json_reply(200, self._completion(request, behaviour))

    def _completion(self, request: dict[str, Any], behaviour: str) -> dict[str, Any]:
        prompt = " ".join(str(m.get("content", "")) for m in request["messages"])
        text = story_text("good" if behaviour == "timeout" else behaviour, facts_in(prompt),
                          self.picks)  # fmt: skip
        prompt_tokens, answer_tokens = len(prompt) // 4, len(text) // 4
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": request["model"],
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text, "refusal": None},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": answer_tokens,
                "total_tokens": prompt_tokens + answer_tokens,
            },
            "system_fingerprint": "fp_fake",
        }


def _header(headers: dict[str, str], name: str) -> str | None:
    return next((v for k, v in headers.items() if k.lower() == name), None)


def messages(request: Request) -> list[dict[str, Any]]:
    """The messages a request sent."""
    sent: list[dict[str, Any]] = request.body.get("messages", [])
    return sent

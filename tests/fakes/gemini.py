"""A fake Gemini API: ``POST /(v1|v1beta)/models/<model>:generateContent`` on a loopback port.

Answers in the REST API's shapes (GenerateContentResponse with candidates, content
parts, finishReason and usageMetadata; errors as ``{"error": {code, message, status}}``),
so the real google-genai SDK can be pointed at it through WRAPPED_GEMINI_BASE_URL.
It checks the ``x-goog-api-key`` header as the real API does.
"""

from __future__ import annotations

import json
import re
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

_ROUTE = re.compile(r"/(v1|v1beta)/models/([^/:]+):generateContent")
_STATUS = {400: "INVALID_ARGUMENT", 404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL"}
_MESSAGES = {
    429: "Resource has been exhausted (e.g. check quota).",
    500: "An internal error has occurred. Please retry or report in "
    "https://developers.generativeai.google/guide/troubleshooting",
}


def gemini_error(code: int, message: str) -> Reply:
    return json_reply(code, {"error": {"code": code, "message": message, "status": _STATUS[code]}})


class FakeGemini(FakeModelServer):
    """The Gemini REST API's generateContent, good or bad on request."""

    def answer(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        route = _ROUTE.fullmatch(urlsplit(path).path)
        if method != "POST" or route is None:
            return gemini_error(404, f"Method not found: {path}")
        if _header(headers, "x-goog-api-key") != self.api_key:
            return gemini_error(400, "API key not valid. Please pass a valid API key.")
        request = json.loads(body or b"{}")
        behaviour = self.next_behaviour()
        self.log(Request(path, headers, request, behaviour))
        if behaviour in ("429", "500"):
            return gemini_error(int(behaviour), _MESSAGES[int(behaviour)])
        if behaviour == "timeout":
            self.stall()
        return json_reply(200, self._response(route.group(2), request, behaviour))

    def _response(self, model: str, request: dict[str, Any], behaviour: str) -> dict[str, Any]:
        prompt = " ".join(
            part.get("text", "") for content in request["contents"] for part in content["parts"]
        )
        text = story_text("good" if behaviour == "timeout" else behaviour, facts_in(prompt),
                          self.picks)  # fmt: skip
        prompt_tokens, answer_tokens = len(prompt) // 4, len(text) // 4
        return {
            "candidates": [
                {
                    "content": {"parts": [{"text": text}], "role": "model"},
                    "finishReason": "STOP",
                    "index": 0,
                }
            ],
            "usageMetadata": {
                "promptTokenCount": prompt_tokens,
                "candidatesTokenCount": answer_tokens,
                "totalTokenCount": prompt_tokens + answer_tokens,
            },
            "modelVersion": model,
            "responseId": uuid.uuid4().hex[:20],
        }


def _header(headers: dict[str, str], name: str) -> str | None:
    return next((v for k, v in headers.items() if k.lower() == name), None)


def generation_config(request: Request) -> dict[str, Any]:
    """The generationConfig a request sent (structured output lives here)."""
    config: dict[str, Any] = request.body.get("generationConfig", {})
    return config


def texts(request: Request) -> list[str]:
    """Every text the request sent, system instruction first."""
    system = request.body.get("systemInstruction", {}).get("parts", [])
    turns = [p for c in request.body.get("contents", []) for p in c.get("parts", [])]
    return [p.get("text", "") for p in [*system, *turns]]

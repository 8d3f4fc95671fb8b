"""The Gemini writer: Google's Gemini API through the google-genai SDK (DESIGN §12).

The SDK has no timeout by default, so one is set: each request gives up after
WRAPPED_WRITER_TIMEOUT_S (never past the story's deadline). Its own retries stay off:
a 429, a 5xx, a timeout or a dropped connection is a `WriterUnavailable`, and
`LlmWriter` retries it through the app's retry policy. Structured output needs the
v1beta API, so that is the version used. A timeout or a dropped connection surfaces
as the SDK's transport error (httpx), not one of its own, so both are caught.
"""

from __future__ import annotations

import importlib
from typing import Any

from weekly_wrapped.config import Settings
from weekly_wrapped.extras import require
from weekly_wrapped.insights.recommend import ResolverFactory
from weekly_wrapped.insights.writers.llm import (
    Completion,
    LlmWriter,
    StoryDraft,
    TokenBudget,
    WriterNotConfigured,
    WriterRefused,
    WriterUnavailable,
    estimate_tokens,
    retry_after_s,
    time_left,
)
from weekly_wrapped.insights.writers.prompts import Prompt

API_VERSION = "v1beta"
"""Structured output (responseSchema) is served on v1beta."""


def _sdk() -> tuple[Any, Any, Any]:
    genai = require("llm", "google.genai", needed_by="WRAPPED_WRITER=gemini")
    return genai, genai.types, genai.errors


def _transport_errors() -> tuple[type[Exception], ...]:
    """The HTTP client's own errors (timeouts, refused connections), whichever it uses."""
    found: list[type[Exception]] = []
    for module in ("httpx2", "httpx"):
        try:
            found.append(importlib.import_module(module).HTTPError)
        except ImportError:
            continue
    return tuple(found)


class GeminiProvider:
    """Sends prompts to one Gemini model and returns the JSON text it writes."""

    name = "gemini"

    def __init__(self, settings: Settings) -> None:
        if settings.gemini_api_key is None:
            raise WriterNotConfigured(
                "WRAPPED_WRITER=gemini, but WRAPPED_GEMINI_API_KEY is not set",
                hint="Create a key at aistudio.google.com and set WRAPPED_GEMINI_API_KEY in .env.",
            )
        self.model = settings.gemini_model
        self._settings = settings
        genai, self._types, self._errors = _sdk()
        self._transport = _transport_errors()
        options = self._types.HttpOptions(
            base_url=settings.gemini_base_url,
            api_version=API_VERSION,
            timeout=_ms(settings.writer_timeout_s),
            retry_options=self._types.HttpRetryOptions(attempts=1),
        )
        self._client = genai.Client(
            api_key=settings.gemini_api_key.get_secret_value(), http_options=options
        )

    def complete(self, prompt: Prompt, deadline: float, max_tokens: int) -> Completion:
        """The model's answer to `prompt`, as JSON text matching `StoryDraft`."""
        try:
            response = self._client.models.generate_content(
                model=self.model,
                contents=self._contents(prompt),
                config=self._config(prompt, deadline, max_tokens),
            )
        except self._errors.APIError as exc:
            raise self._api_error(exc) from None
        except self._transport as exc:
            raise WriterUnavailable(
                f"Gemini ({self.model}) did not answer: {type(exc).__name__}"
            ) from None
        text = response.text or ""
        usage = response.usage_metadata
        tokens = (usage.total_token_count if usage else None) or estimate_tokens(
            prompt.characters() + len(text)
        )
        return Completion(text, tokens)

    def _contents(self, prompt: Prompt) -> list[Any]:
        types = self._types
        return [
            types.Content(
                role="model" if turn.role == "assistant" else "user",
                parts=[types.Part(text=turn.text)],
            )
            for turn in prompt.turns
        ]

    def _config(self, prompt: Prompt, deadline: float, max_tokens: int) -> Any:
        return self._types.GenerateContentConfig(
            system_instruction=prompt.system,
            response_mime_type="application/json",
            response_schema=StoryDraft,
            max_output_tokens=max_tokens,
            http_options=self._types.HttpOptions(
                timeout=_ms(time_left(deadline, self._settings.writer_timeout_s))
            ),
        )

    def _api_error(self, exc: Any) -> Exception:
        code = getattr(exc, "code", None)
        what = f"Gemini ({self.model}) answered HTTP {code}: {getattr(exc, 'message', '') or exc}"
        if code in (429, 408) or (isinstance(code, int) and code >= 500):
            return WriterUnavailable(what, retry_after=retry_after_s(exc))
        return WriterRefused(
            what, hint="Check WRAPPED_GEMINI_API_KEY and WRAPPED_GEMINI_MODEL (see docs/ai.md)."
        )


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))


def gemini_writer(
    settings: Settings, budget: TokenBudget, resolvers: ResolverFactory | None = None
) -> LlmWriter:
    """The Gemini writer for `settings`."""
    return LlmWriter(GeminiProvider(settings), settings, budget, resolvers)

"""The OpenAI-compatible writer: OpenAI, Ollama, vLLM or a llama.cpp server, via the openai SDK.

Structured output where the server supports it: a strict JSON schema built from
`StoryDraft`. Where it does not (older local servers answer 400), JSON mode plus our
own validation; WRAPPED_OPENAI_OUTPUT=auto finds out once per run and remembers.

The SDK's own retries are off: it honours a Retry-After of up to two minutes, which
would break the story's time bound. Instead a 429, a 5xx, a timeout or a dropped
connection is a `WriterUnavailable`, carrying the Retry-After, and `LlmWriter` retries
it through the app's retry policy.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

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

OPENAI_HOST = "api.openai.com"
LOCAL_KEY = "not-needed"
"""Local servers ignore the key, but the SDK refuses to start without one."""


def _sdk() -> Any:
    return require("llm", "openai", needed_by="WRAPPED_WRITER=openai")


def strict_schema() -> dict[str, Any]:
    """`StoryDraft` as an OpenAI ``json_schema`` response format (strict)."""
    return {
        "type": "json_schema",
        "json_schema": {"name": "story", "strict": True, "schema": StoryDraft.model_json_schema()},
    }


class OpenAICompatibleProvider:
    """Sends prompts to one model behind an OpenAI-compatible chat-completions endpoint."""

    name = "openai"

    def __init__(self, settings: Settings) -> None:
        self.model = settings.openai_model
        self._settings = settings
        self._sdk = _sdk()
        self._official = urlsplit(settings.openai_base_url).hostname == OPENAI_HOST
        self._client = self._sdk.OpenAI(
            base_url=settings.openai_base_url,
            api_key=self._key(settings),
            max_retries=0,
            timeout=settings.writer_timeout_s,
        )
        self.output = "json_schema" if settings.openai_output == "auto" else settings.openai_output
        self._auto = settings.openai_output == "auto"

    def _key(self, settings: Settings) -> str:
        if settings.openai_api_key is not None:
            return settings.openai_api_key.get_secret_value()
        if self._official:
            raise WriterNotConfigured(
                "WRAPPED_WRITER=openai with OpenAI's endpoint, but WRAPPED_OPENAI_API_KEY is not set",
                hint="Set WRAPPED_OPENAI_API_KEY, or point WRAPPED_OPENAI_BASE_URL at a local server.",
            )
        return LOCAL_KEY

    def complete(self, prompt: Prompt, deadline: float, max_tokens: int) -> Completion:
        """The model's answer to `prompt`: one request, its failure as a writer error."""
        try:
            return self._once(prompt, deadline, max_tokens)
        except self._sdk.APIStatusError as exc:
            raise self._status_error(exc) from None
        except self._sdk.APIConnectionError as exc:
            raise WriterUnavailable(f"{self._who()} did not answer: {type(exc).__name__}") from None

    def _once(self, prompt: Prompt, deadline: float, max_tokens: int) -> Completion:
        try:
            response = self._create(prompt, deadline, max_tokens)
        except self._sdk.BadRequestError:
            if not (self._auto and self.output == "json_schema"):
                raise
            # This server has no structured output: use JSON mode from now on.
            self.output = "json_object"
            response = self._create(prompt, deadline, max_tokens)
        choice = response.choices[0] if response.choices else None
        text = (choice.message.content if choice else None) or ""
        usage = response.usage
        tokens = (usage.total_tokens if usage else None) or estimate_tokens(
            prompt.characters() + len(text)
        )
        return Completion(text, tokens)

    def _create(self, prompt: Prompt, deadline: float, max_tokens: int) -> Any:
        limit = "max_completion_tokens" if self._official else "max_tokens"
        return self._client.chat.completions.create(
            model=self.model,
            messages=self._messages(prompt),
            response_format=strict_schema()
            if self.output == "json_schema"
            else {"type": "json_object"},
            timeout=time_left(deadline, self._settings.writer_timeout_s),
            **{limit: max_tokens},
        )

    def _messages(self, prompt: Prompt) -> list[dict[str, str]]:
        system = prompt.system
        if self.output == "json_object":
            schema = json.dumps(StoryDraft.model_json_schema(), separators=(",", ":"))
            system += f"\n\nAnswer with one JSON object that follows this JSON Schema:\n{schema}"
        return [
            {"role": "system", "content": system},
            *({"role": turn.role, "content": turn.text} for turn in prompt.turns),
        ]

    def _status_error(self, exc: Any) -> Exception:
        status = exc.status_code
        what = f"{self._who()} answered HTTP {status}: {_message(exc)}"
        if status in (408, 409, 429) or status >= 500:
            return WriterUnavailable(what, retry_after=retry_after_s(exc))
        return WriterRefused(
            what,
            hint="Check WRAPPED_OPENAI_BASE_URL, WRAPPED_OPENAI_API_KEY and WRAPPED_OPENAI_MODEL "
            "(see docs/ai.md).",
        )

    def _who(self) -> str:
        host = urlsplit(self._settings.openai_base_url).netloc
        return f"the model {self.model} at {host}"


def _message(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])[:300]
    return str(getattr(exc, "message", "")).strip()[:300] or "no reason given"


def openai_writer(
    settings: Settings, budget: TokenBudget, resolvers: ResolverFactory | None = None
) -> LlmWriter:
    """The OpenAI-compatible writer for `settings`."""
    return LlmWriter(OpenAICompatibleProvider(settings), settings, budget, resolvers)

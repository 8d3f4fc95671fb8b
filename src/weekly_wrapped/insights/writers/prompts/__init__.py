"""The versioned prompts an LLM writer sends: instructions, the facts, and retry feedback.

The facts are the week's stats JSON and nothing else: no user id, timezone, email,
token or IP. Fields a story never cites (the 7×24 heatmap, image and Spotify links)
are left out to save tokens. A change to the wording is a new version (``story_v2.md``),
so every recap can say which prompt wrote it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from string import Template
from typing import Any, Literal

from weekly_wrapped.errors import TerminalError
from weekly_wrapped.insights.models import ListeningStats

PROMPT_VERSION = "story-v1"
"""Recorded with every recap an LLM writes."""

FACTS_START, FACTS_END = "<stats>", "</stats>"
_LEFT_OUT = {"user_id", "timezone", "heatmap"}
_LINKS = {"image_url", "spotify_url"}

Role = Literal["user", "assistant"]


class PromptMissing(TerminalError):
    """A prompt template is not in the installed package."""

    hint = "Reinstall Weekly Wrapped: pip install --force-reinstall 'weekly-wrapped[llm]'."


@dataclass(frozen=True)
class Turn:
    """One message of the conversation with the model."""

    role: Role
    text: str


@dataclass(frozen=True)
class Prompt:
    """The system instructions and the conversation so far."""

    system: str
    turns: tuple[Turn, ...]

    def retry(self, answer: str, problems: list[str]) -> Prompt:
        """The conversation again, with the rejected answer and the reasons it was rejected."""
        listed = "\n".join(f"- {problem}" for problem in problems)
        feedback = _template("feedback_v1.md").substitute(problems=listed)
        return Prompt(self.system, (*self.turns, Turn("assistant", answer), Turn("user", feedback)))

    def characters(self) -> int:
        """Length of everything sent, for estimating tokens."""
        return len(self.system) + sum(len(t.text) for t in self.turns)


def story_prompt(stats: ListeningStats, language: str, tone: str) -> Prompt:
    """The first request for a week's story."""
    system = _template("story_v1.md").substitute(language=language, tone=tone)
    facts = json.dumps(facts_json(stats), ensure_ascii=False, separators=(",", ":"))
    user = f"The facts of this week:\n{FACTS_START}\n{facts}\n{FACTS_END}\nWrite the story as JSON."
    return Prompt(system, (Turn("user", user),))


def facts_json(stats: ListeningStats) -> dict[str, Any]:
    """The stats as the model sees them: names and numbers only."""
    dumped = stats.model_dump(mode="json", exclude=_LEFT_OUT)
    return {key: _without_links(value) for key, value in dumped.items()}


def _without_links(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_links(v) for k, v in value.items() if k not in _LINKS}
    if isinstance(value, list):
        return [_without_links(v) for v in value]
    return value


def _template(name: str) -> Template:
    try:
        text = resources.files(__package__).joinpath(name).read_text(encoding="utf-8")
    except OSError:
        raise PromptMissing(f"the prompt template {name} is missing from the package") from None
    return Template(text)

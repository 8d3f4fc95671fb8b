"""Story writers: turn a week's numbers into words (DESIGN §7).

A writer sees only the stats (names and numbers, never an email address or a
token) and the user's `History`, the songs it may recommend. `WRAPPED_WRITER`
chooses one; the offline writer needs no key and is always available.
"""

from __future__ import annotations

import logging
from typing import Protocol

from weekly_wrapped.config import Settings
from weekly_wrapped.errors import ConfigError
from weekly_wrapped.insights.history import History
from weekly_wrapped.insights.models import ListeningStats, Story
from weekly_wrapped.insights.recommend import spotify_resolvers
from weekly_wrapped.insights.writers.llm import LlmWriter, TokenBudget
from weekly_wrapped.insights.writers.offline import OfflineWriter

log = logging.getLogger(__name__)

__all__ = [
    "History",
    "LlmWriter",
    "OfflineWriter",
    "StoryWriter",
    "UnavailableWriter",
    "writer_for",
]


class StoryWriter(Protocol):
    """Writes the story of one period's stats."""

    @property
    def name(self) -> str:
        """What the recap records as its writer: ``offline``, ``gemini``, ``openai``."""
        ...

    @property
    def model(self) -> str | None:
        """The model behind the words, if any."""
        ...

    def write(self, stats: ListeningStats, history: History) -> Story:
        """The story of `stats`, recommending only from `history`."""
        ...


def writer_for(settings: Settings, budget: TokenBudget | None = None) -> StoryWriter:
    """The writer `WRAPPED_WRITER` names; LLM writers share `budget` (default: a new one).

    A writer that cannot start (no API key, no SDK) is not an error here: its stories
    fall back to the offline writer, and each recap records why.
    """
    if settings.writer == "offline":
        return OfflineWriter()
    budget = budget or TokenBudget(settings.writer_token_budget)
    resolvers = spotify_resolvers(settings)
    try:
        if settings.writer == "gemini":
            from weekly_wrapped.insights.writers.gemini import gemini_writer

            return gemini_writer(settings, budget, resolvers)
        from weekly_wrapped.insights.writers.openai import openai_writer

        return openai_writer(settings, budget, resolvers)
    except ConfigError as exc:
        log.warning("the %s writer cannot start (%s); stories fall back to the offline writer",
                    settings.writer, exc)  # fmt: skip
        return UnavailableWriter(settings.writer, exc)


class UnavailableWriter:
    """Stands in for an LLM writer that could not start: every story it is asked for fails."""

    model: str | None = None

    def __init__(self, name: str, error: ConfigError) -> None:
        self.name = name
        self.error = error

    def write(self, stats: ListeningStats, history: History) -> Story:
        """Never a story: raises why the writer could not start."""
        raise self.error

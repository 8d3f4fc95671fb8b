"""What every LLM writer shares: the draft schema, the grounded-writing loop, and its bounds.

A provider (`gemini`, `openai`) only sends a prompt and returns the text it got.
`LlmWriter` does the rest, the same way for each:

1. send the prompt (the stats JSON, never a user id, email or token);
2. read the answer as a `StoryDraft`, keep it to the story's limits, and check its
   numbers and names (`insights.grounding`);
3. on any problem, send the answer back once with the reasons, then give up with
   `StoryRejected`, so the recap falls back to the offline writer;
4. vet the picks: never a song already heard, and only real tracks when Spotify can say.

Bounds: each request has a timeout (set per provider) and is retried through the app's
retry policy (`weekly_wrapped.retry`): a 429, a 5xx, a timeout or a dropped connection
is tried again up to WRAPPED_WRITER_RETRIES times, waiting at most a few seconds and
never past the story's deadline (`WRAPPED_WRITER_DEADLINE_S`). One run has a token budget.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from weekly_wrapped.config import Settings
from weekly_wrapped.errors import ConfigError, TerminalError, TransientError, WrappedError
from weekly_wrapped.insights import story as fmt
from weekly_wrapped.insights.grounding import GroundingResult, check_story
from weekly_wrapped.insights.history import History
from weekly_wrapped.insights.models import ListeningStats, Recommendation, Story
from weekly_wrapped.insights.recommend import PickContext, ResolverFactory, vet_picks
from weekly_wrapped.insights.writers.prompts import PROMPT_VERSION, Prompt, story_prompt
from weekly_wrapped.retry import RetryPolicy, retrying

log = logging.getLogger(__name__)

SUMMARY_WORDS = 120
MOOD_WORDS = 60
MAX_OUTPUT_TOKENS = 8192
"""The most an answer may take; thinking models spend part of it before the JSON."""
MIN_REQUEST_S = 1.0
"""A request with less time than this left before the deadline is not worth sending."""
FIRST_BACKOFF_S = 0.5
"""The wait before the first retry of a request, when the service named none; it doubles."""
MAX_WAIT_S = 4.0
"""The longest wait between two requests, a Retry-After included: a story has a deadline."""
CHARS_PER_TOKEN = 4
"""A rough, cautious estimate for text we have not been told the token count of."""


# --- what the model fills in ------------------------------------------------------------


class DraftPick(BaseModel):
    """A song the model suggests; `vet_picks` decides if it is kept."""

    model_config = ConfigDict(extra="forbid")

    artist: str
    track: str
    why: str


class StoryDraft(BaseModel):
    """The `Story` fields an LLM writes, as its structured-output schema."""

    model_config = ConfigDict(extra="forbid")

    headline: str
    summary: str
    mood: str
    highlights: list[str] = Field(max_length=3)
    recommendations: list[DraftPick] = Field(min_length=3, max_length=5)
    closing: str

    def to_story(self) -> Story:
        """The story, with every pick unverified until `vet_picks` says otherwise."""
        picks = [
            Recommendation(artist=p.artist, track=p.track, why=p.why) for p in self.recommendations
        ]
        return Story(
            headline=self.headline.strip(),
            summary=self.summary.strip(),
            mood=self.mood.strip(),
            highlights=[h.strip() for h in self.highlights if h.strip()],
            recommendations=picks,
            closing=self.closing.strip(),
        )


# --- errors -----------------------------------------------------------------------------


class WriterError(WrappedError):
    """An LLM writer gave no usable story; the recap falls back to the offline writer."""

    attempts: int = 1
    grounding: GroundingResult | None = None


class WriterUnavailable(WriterError, TransientError):
    """The LLM did not answer: a timeout, a rate limit (429) or a server error, after retries."""

    hint = "The offline writer wrote this week's story; the next run tries the LLM again."


class WriterRefused(WriterError, TerminalError):
    """The LLM service refused the request (a bad key, an unknown model, an unsupported schema)."""


class StoryRejected(WriterError, TransientError):
    """The LLM's story failed the checks twice (bad JSON, a number or name not in the facts)."""


class BudgetSpent(WriterError, TransientError):
    """This run's token budget (WRAPPED_WRITER_TOKEN_BUDGET) is used up."""

    hint = "Raise WRAPPED_WRITER_TOKEN_BUDGET, or let the offline writer write the rest."


class WriterNotConfigured(ConfigError):
    """An LLM writer is chosen, but a setting it needs is missing."""


def failed(error: WriterError, attempts: int, grounding: GroundingResult | None) -> WriterError:
    """`error`, marked with how many drafts were asked for and what the last check found."""
    error.attempts = attempts
    error.grounding = grounding
    return error


# --- what providers do ------------------------------------------------------------------


@dataclass(frozen=True)
class Completion:
    """A model's answer: its text and the tokens the request used."""

    text: str
    tokens: int


class Provider(Protocol):
    """One LLM service: sends a prompt, returns the answer's text."""

    name: str
    model: str

    def complete(self, prompt: Prompt, deadline: float, max_tokens: int) -> Completion:
        """The answer to `prompt`, one request; raises `WriterUnavailable` or `WriterRefused`.

        A `WriterUnavailable` carries the service's Retry-After, if it sent one.
        """
        ...


def request_policy(settings: Settings, deadline: float) -> RetryPolicy:
    """How one request for a story is retried: a few short waits, all before `deadline`."""
    return RetryPolicy(
        attempts=1 + settings.writer_retries,
        first_backoff_s=FIRST_BACKOFF_S,
        max_backoff_s=MAX_WAIT_S,
        max_wait_s=MAX_WAIT_S,
        deadline=deadline,
        min_request_s=MIN_REQUEST_S,
    )


def time_left(deadline: float, timeout_s: float) -> float:
    """Seconds the next request may take: its timeout, cut short by the story's deadline."""
    return max(0.001, min(timeout_s, deadline - time.monotonic()))


def retry_after_s(error: Any) -> float | None:
    """The seconds of an SDK error's Retry-After header, if its response has a number there."""
    try:
        return max(0.0, float(error.response.headers["retry-after"]))
    except (AttributeError, KeyError, TypeError, ValueError):
        return None


def estimate_tokens(characters: int) -> int:
    """Tokens for `characters` of text, rounded up."""
    return -(-characters // CHARS_PER_TOKEN)


class TokenBudget:
    """Tokens one run may spend, shared by every story it writes (thread-safe)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.spent = 0
        self._lock = threading.Lock()

    def allowance(self, prompt_tokens: int) -> int:
        """Answer tokens a request may ask for; raises `BudgetSpent` when too few are left."""
        with self._lock:
            left = self.limit - self.spent - prompt_tokens
        if left < 1024:
            raise BudgetSpent(
                f"the LLM token budget of this run is spent ({self.spent:,} of {self.limit:,} "
                "tokens used), so the offline writer writes the remaining stories"
            )
        return min(MAX_OUTPUT_TOKENS, left)

    def spend(self, tokens: int) -> None:
        with self._lock:
            self.spent += tokens


# --- the outcome --------------------------------------------------------------------------


@dataclass(frozen=True)
class Written:
    """A story and how it came to be: the writer, the model, the drafts asked for, the check."""

    story: Story
    writer: str
    model: str | None
    attempts: int
    grounding: GroundingResult
    fallback: dict[str, Any] | None = None
    """When the chosen writer failed: which one, why, and what its last check found."""
    prompt: str | None = None

    def grounding_record(self) -> dict[str, Any]:
        """What the recap row keeps as `grounding`."""
        return {
            **self.grounding.model_dump(mode="json"),
            "prompt": self.prompt,
            "fallback": self.fallback,
        }


def fallback_record(writer: str, model: str | None, error: WrappedError) -> dict[str, Any]:
    """Why the chosen writer did not write the story, for the recap row."""
    grounding = getattr(error, "grounding", None)
    return {
        "writer": writer,
        "model": model,
        "attempts": getattr(error, "attempts", 1),
        "error": type(error).__name__,
        "reason": str(error),
        "problems": grounding.problems if isinstance(grounding, GroundingResult) else [],
    }


# --- the writer ---------------------------------------------------------------------------


class LlmWriter:
    """A `StoryWriter` backed by an LLM: grounded, bounded, and never the last word."""

    def __init__(
        self,
        provider: Provider,
        settings: Settings,
        budget: TokenBudget,
        resolvers: ResolverFactory | None = None,
    ) -> None:
        self.provider = provider
        self.settings = settings
        self.budget = budget
        self.resolvers = resolvers

    @property
    def name(self) -> str:
        return self.provider.name

    @property
    def model(self) -> str | None:
        return self.provider.model

    def write(self, stats: ListeningStats, history: History) -> Story:
        """The story of `stats`, its picks unverified; raises a `WriterError` on failure."""
        return self.write_grounded(stats, history).story

    def write_grounded(
        self, stats: ListeningStats, history: History, context: PickContext | None = None
    ) -> Written:
        """Draft, check, retry once with the reasons; then vet the picks against `context`."""
        deadline = time.monotonic() + self.settings.writer_deadline_s
        prompt = story_prompt(stats, self.settings.writer_language, self.settings.writer_tone)
        result: GroundingResult | None = None
        for attempt in (1, 2):
            if attempt == 2 and deadline - time.monotonic() < MIN_REQUEST_S:
                raise failed(StoryRejected("no time was left to retry the story"), 1, result)
            answer = self._ask(prompt, deadline, attempt, result)
            story, result = review(answer, stats, history)
            if story is not None and result.passed:
                picks = self._vet(story.recommendations, context)
                return Written(
                    story.model_copy(update={"recommendations": picks}),
                    self.name, self.model, attempt, result, prompt=PROMPT_VERSION,
                )  # fmt: skip
            log.info("%s story, attempt %d, rejected: %s", self.name, attempt, result.problems)
            prompt = prompt.retry(answer, result.problems)
        summary = "; ".join(result.problems[:3]) if result else "no story"
        raise failed(StoryRejected(f"the {self.name} story failed the checks twice: {summary}"),
                     2, result)  # fmt: skip

    def _ask(
        self, prompt: Prompt, deadline: float, attempt: int, last: GroundingResult | None
    ) -> str:
        try:
            allowance = self.budget.allowance(estimate_tokens(prompt.characters()))
            completion = retrying(
                lambda: self.provider.complete(prompt, deadline, allowance),
                request_policy(self.settings, deadline),
                f"the {self.name} writer",
            )
        except WriterError as exc:
            raise failed(exc, attempt, last) from None
        except Exception as exc:  # noqa: BLE001
            # DESIGN §7: no writer failure blocks a recap, even one the SDK never documented.
            log.exception("the %s SDK failed unexpectedly", self.name)
            surprise = WriterUnavailable(f"the {self.name} SDK failed: {type(exc).__name__}: {exc}")
            raise failed(surprise, attempt, last) from exc
        self.budget.spend(completion.tokens)
        return completion.text

    def _vet(
        self, picks: list[Recommendation], context: PickContext | None
    ) -> list[Recommendation]:
        if context is None:
            return picks
        resolver = self.resolvers(context) if self.resolvers else None
        try:
            return vet_picks(context, picks, resolver)
        finally:
            if resolver is not None:
                resolver.close()


def review(
    answer: str, stats: ListeningStats, history: History
) -> tuple[Story | None, GroundingResult]:
    """The answer as a story, and every problem with it: its JSON, its limits, its facts."""
    try:
        story = StoryDraft.model_validate_json(answer).to_story()
    except ValidationError as exc:
        problems = [_schema_problem(error) for error in exc.errors()[:5]]
        return None, GroundingResult(passed=False, problems=problems)
    checked = check_story(story, stats, history)
    problems = [*limit_problems(story), *checked.problems]
    return story, checked.model_copy(update={"passed": not problems, "problems": problems})


def limit_problems(story: Story) -> list[str]:
    """The story's length limits (DESIGN §7), in words the model can act on."""
    problems = []
    if fmt.word_count(story.summary) > SUMMARY_WORDS:
        problems.append(
            f"summary: {fmt.word_count(story.summary)} words, more than {SUMMARY_WORDS}"
        )
    if fmt.word_count(story.mood) > MOOD_WORDS:
        problems.append(f"mood: {fmt.word_count(story.mood)} words, more than {MOOD_WORDS}")
    for field in ("headline", "summary", "mood", "closing"):
        if not getattr(story, field).strip():
            problems.append(f"{field}: empty")
    return problems


def _schema_problem(error: Any) -> str:
    where = ".".join(str(part) for part in error.get("loc", ())) or "the answer"
    if error.get("type") == "json_invalid":
        return f"the answer is not valid JSON ({error.get('msg')}); answer with one JSON object"
    return f"{where}: {error.get('msg')}"

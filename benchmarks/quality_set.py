"""The quality set against a real model: grounding pass rate, recommendation hit rate, latency.

Sends the 30 generated weeks of `tests/integration/test_quality_set.py` to the writer
that WRAPPED_WRITER and the other WRAPPED_* settings (environment or `.env`) choose,
and reports, over all weeks:

- grounding: stories that passed on the first draft, after the one retry, and after
  the fallback to the offline writer (always 100%, or the fallback is broken);
- recommendations: of the picks the model proposed, the share kept, that is not
  already heard and, with a Spotify token, found on Spotify;
- latency per story (p50, p95, max) and the tokens used.

    python benchmarks/quality_set.py                          # the configured writer
    python benchmarks/quality_set.py --fake gemini            # the local fake, no key
    WRAPPED_WRITER=openai WRAPPED_OPENAI_BASE_URL=http://127.0.0.1:11434/v1 \\
        WRAPPED_OPENAI_MODEL=llama3.2 python benchmarks/quality_set.py

Set WRAPPED_QUALITY_SPOTIFY_TOKEN to a Spotify access token to check picks against
Spotify search. See docs/ai.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fakes.gemini import FakeGemini  # noqa: E402
from tests.fakes.openai_compat import FakeOpenAI  # noqa: E402
from tests.integration.test_quality_set import QUALITY_SET, heard_in  # noqa: E402

from weekly_wrapped.config import Settings, load_settings  # noqa: E402
from weekly_wrapped.insights.grounding import check_story  # noqa: E402
from weekly_wrapped.insights.models import ListeningStats  # noqa: E402
from weekly_wrapped.insights.recommend import (  # noqa: E402
    PickContext,
    SpotifyTrackResolver,
    TrackResolver,
    vet_picks,
)
from weekly_wrapped.insights.writers import (  # noqa: E402
    LlmWriter,
    OfflineWriter,
    UnavailableWriter,
    writer_for,
)
from weekly_wrapped.insights.writers.llm import StoryRejected, WriterError  # noqa: E402

SPOTIFY_TOKEN_VARIABLE = "WRAPPED_QUALITY_SPOTIFY_TOKEN"  # noqa: S105 - a variable name


@dataclass
class Tally:
    """What the run found, week by week."""

    outcomes: Counter[str] = field(default_factory=Counter)
    grounded: int = 0
    proposed: int = 0
    kept: int = 0
    verified: int = 0
    seconds: list[float] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def report(self, writer: str, model: str | None, tokens: int, weeks: int) -> dict[str, Any]:
        def share(count: int, total: int) -> float | None:
            return round(count / total, 3) if total else None

        ordered = sorted(self.seconds)
        return {
            "writer": writer,
            "model": model,
            "weeks": weeks,
            "grounding": {
                "first_draft": share(self.outcomes["first_draft"], weeks),
                "after_retry": share(self.outcomes["first_draft"] + self.outcomes["after_retry"], weeks),
                "after_fallback": share(self.grounded, weeks),
                "fallbacks": dict(sorted((k, v) for k, v in self.outcomes.items() if k.startswith("fallback"))),
            },
            "recommendations": {
                "proposed": self.proposed,
                "hit_rate": share(self.kept, self.proposed),
                "verified_rate": share(self.verified, self.proposed),
            },
            "latency_s": {
                "p50": round(statistics.median(ordered), 2) if ordered else None,
                "p95": round(ordered[int(0.95 * (len(ordered) - 1))], 2) if ordered else None,
                "max": round(ordered[-1], 2) if ordered else None,
            },
            "tokens": tokens,
            "problems_seen": self.problems[:10],
        }  # fmt: skip


def run_week(
    writer: LlmWriter | OfflineWriter,
    stats: ListeningStats,
    history: Any,
    resolver: TrackResolver | None,
    tally: Tally,
) -> None:
    """Write one week's story, classify the outcome, and vet its picks."""
    started = time.monotonic()
    if isinstance(writer, OfflineWriter):
        story, outcome = writer.write(stats, history), "first_draft"
    else:
        try:
            written = writer.write_grounded(stats, history)
            story, outcome = (
                written.story,
                ("first_draft" if written.attempts == 1 else "after_retry"),
            )
        except WriterError as exc:
            kind = "rejected" if isinstance(exc, StoryRejected) else type(exc).__name__
            tally.problems += exc.grounding.problems if exc.grounding else [str(exc)]
            story, outcome = OfflineWriter().write(stats, history), f"fallback:{kind}"
    tally.seconds.append(time.monotonic() - started)
    tally.outcomes[outcome] += 1
    tally.grounded += check_story(story, stats, history).passed
    if not outcome.startswith("fallback") and not isinstance(writer, OfflineWriter):
        context = PickContext(None, stats.user_id, stats.period_start, heard_in(stats, history))
        kept = vet_picks(context, story.recommendations, resolver)
        tally.proposed += len(story.recommendations)
        tally.kept += len(kept)
        tally.verified += sum(p.verified for p in kept)


def spotify_resolver(settings: Settings) -> TrackResolver | None:
    token = os.environ.get(SPOTIFY_TOKEN_VARIABLE)
    if not token:
        return None
    from weekly_wrapped.sources.spotify.client import SpotifyClient

    return SpotifyTrackResolver(SpotifyClient(settings), token)


def fake_settings(kind: str, stack: ExitStack) -> Settings:
    """Settings aimed at a local fake model (answers from the facts, never wrong)."""
    if kind == "gemini":
        gemini = stack.enter_context(FakeGemini())
        return load_settings(
            writer="gemini", gemini_api_key=gemini.api_key, gemini_base_url=gemini.url
        )
    fake = stack.enter_context(FakeOpenAI())
    return load_settings(
        writer="openai", openai_api_key=fake.api_key, openai_base_url=fake.url + "/v1"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fake", choices=["gemini", "openai"], help="use a local fake model")
    parser.add_argument(
        "--weeks", type=int, default=len(QUALITY_SET), help="how many weeks to send"
    )
    parser.add_argument("--json", type=Path, help="also write the report to this file")
    args = parser.parse_args()
    with ExitStack() as stack:
        settings = fake_settings(args.fake, stack) if args.fake else load_settings()
        writer = writer_for(settings)
        if isinstance(writer, UnavailableWriter):
            print(f"cannot start the {writer.name} writer: {writer.error}", file=sys.stderr)
            print(writer.error.hint or "", file=sys.stderr)
            return 2
        resolver = spotify_resolver(settings)
        tally = Tally()
        for stats, history in QUALITY_SET[: args.weeks]:
            run_week(writer, stats, history, resolver, tally)
        tokens = writer.budget.spent if isinstance(writer, LlmWriter) else 0
        report = tally.report(writer.name, writer.model, tokens, min(args.weeks, len(QUALITY_SET)))
    print(json.dumps(report, indent=2, ensure_ascii=False))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    return 0 if report["grounding"]["after_fallback"] == 1.0 else 1


if __name__ == "__main__":
    raise SystemExit(main())

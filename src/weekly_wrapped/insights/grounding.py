"""The grounding check: every number and name in a story must come from the week's facts.

DESIGN §7 asks that each number in a story be a stats value after rounding. This
module reads a story the way a person would and checks what it finds:

- numbers, read with their unit: minutes must be a minutes value; hours a minutes
  value divided by 60; a percentage a share (0–1) times 100; a plain count any
  stats value. A number matches when the value, rounded half up to the decimals
  shown, is the number shown (so "12 hours" and "12.1 hours" both fit 725 minutes).
  After a word like "about", "nearly" or "over" it may also be within 5%;
- clock times: the peak hour, or the edges of the late-night window (midnight to 5 am);
- dates: a day inside the period; ranks ("#2", "3rd"): a place in a top-5 list;
- numbers spelled out ("twelve", "twice") count too, except "one" and "once",
  which English uses for much besides counting;
- names: a quoted title, or the name after "by", must be a track, artist, album,
  genre or show of the stats, of the user's history, or one of the story's own picks.

Names are taken out of the text before numbers are read, so "Room 101" is a name,
not a number. `insights.story` writes numbers the same way; see its docstring.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from weekly_wrapped.identity import normalize
from weekly_wrapped.insights import story as fmt
from weekly_wrapped.insights.history import History
from weekly_wrapped.insights.models import ListeningStats, Story

APPROXIMATE = 0.05
"""How far a number after "about", "nearly", "over"… may be from the value, as a share."""

RANKS = 5
"""Top lists hold five entries, so "#1" to "#5" (or "1st" to "5th") are places in them."""

LATE_NIGHT_EDGES = frozenset({(0, 0), (4, 59), (5, 0)})
"""`late_night_share` covers 00:00–04:59: a story may name the window's edges."""

_SAFE_AFTER_BY = frozenset(
    normalize(word) for word in (*fmt.DAY_NAMES, *fmt.MONTH_NAMES, "Spotify", "Weekly Wrapped")
)
_NUM = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
_APPROX = (
    r"(?:about|around|roughly|nearly|almost|approximately|over|under|more than|less than"
    r"|close to|just over|just under|some|upwards of|~)"
)
_MONTHS = "|".join(fmt.MONTH_NAMES) + r"|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept?|Oct|Nov|Dec"
_WORD_NUMBERS = {
    "zero": 0, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
    "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
    "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
    "eighty": 80, "ninety": 90, "hundred": 100, "thousand": 1000, "dozen": 12, "twice": 2,
    "thrice": 3, "double": 2, "triple": 3,
}  # fmt: skip


class GroundingResult(BaseModel):
    """What the check found: whether the story passed, and each problem in words."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    passed: bool
    problems: list[str] = Field(default_factory=list)
    numbers: int = 0
    """How many numbers, times and dates the check read."""
    names: int = 0
    """How many quoted or "by" names the check read."""


@dataclass(frozen=True)
class Mention:
    """One number as a reader sees it: its kind, value, decimals and whether it is approximate."""

    kind: str
    value: Decimal
    places: int
    text: str
    approximate: bool = False
    minute: int = 0
    on: tuple[int | None, int, int] | None = None
    """For a date: (year or None, month, day)."""


@dataclass
class Facts:
    """What a story may cite: the stats' numbers by kind, the period, and every known name."""

    stats: ListeningStats
    counts: list[Decimal] = field(default_factory=list)
    minutes: list[Decimal] = field(default_factory=list)
    shares: list[Decimal] = field(default_factory=list)
    names: set[str] = field(default_factory=set)

    @classmethod
    def of(cls, stats: ListeningStats, history: History, extra_names: list[str]) -> Facts:
        facts = cls(stats)
        # Single hour-cells of the heatmap are never worth citing, and their 168 small
        # values would let almost any small number through.
        dumped = stats.model_dump(mode="json", exclude={"user_id", "heatmap"})
        for path, value in _numeric_leaves(dumped):
            exact = Decimal(repr(abs(value)))
            facts.counts.append(exact)
            if _is_minutes(path):
                facts.minutes.append(exact)
            if _is_share(path):
                facts.shares.append(exact)
        names = [*_names(dumped), *extra_names]
        names += [n for t in [*history.favourites_gone_quiet, *history.more_from_top_artists]
                  for n in (t.track, t.artist)]  # fmt: skip
        facts.names = {normalize(n) for n in names if n.strip()}
        return facts


def check_story(story: Story, stats: ListeningStats, history: History) -> GroundingResult:
    """Check every number and name in `story` against `stats` and `history`."""
    picks = [n for r in story.recommendations for n in (r.artist, r.track)]
    facts = Facts.of(stats, history, picks)
    pattern = _name_pattern(facts.names)
    problems: list[str] = []
    numbers = names = 0
    for where, text in story_texts(story):
        stripped = pattern.sub(" ", text) if pattern else text
        unknown = list(_unknown_names(stripped))
        names += len(unknown) + (len(pattern.findall(text)) if pattern else 0)
        problems += [
            f"{where}: {name!r} is not in the listening stats or history" for name in unknown
        ]
        for name in unknown:
            stripped = stripped.replace(name, " ")
        for mention in mentions(stripped):
            numbers += 1
            if not grounded(mention, facts):
                problems.append(
                    f"{where}: {mention.text.strip(' .')!r} is not a value of the stats"
                )
    return GroundingResult(passed=not problems, problems=problems, numbers=numbers, names=names)


def story_texts(story: Story) -> Iterator[tuple[str, str]]:
    """Each piece of text in a story, with where it sits (``summary``, ``highlights[1]``…)."""
    yield "headline", story.headline
    yield "summary", story.summary
    yield "mood", story.mood
    for i, highlight in enumerate(story.highlights):
        yield f"highlights[{i}]", highlight
    for i, pick in enumerate(story.recommendations):
        yield f"recommendations[{i}].why", pick.why
    yield "closing", story.closing


# --- reading numbers ------------------------------------------------------------------

_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(pattern, re.IGNORECASE))
    for kind, pattern in (
        ("date", rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?({_MONTHS})\b\.?(?:,?\s+(\d{{4}}))?"),
        ("date", rf"\b({_MONTHS})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s+(\d{{4}}))?"),
        ("date", r"\b(\d{4})-(\d{2})-(\d{2})\b"),
        ("clock", r"\b(midnight|noon|midday)\b"),
        ("clock", r"\b(\d{1,2})(?::(\d{2}))?\s*([ap])\.?m\b\.?"),
        ("clock", r"\b([01]?\d|2[0-3]):([0-5]\d)\b"),
        ("duration", rf"(?:({_APPROX})\s+)?({_NUM})\s*(?:hours?|hrs?|h)\s*(?:and\s+|,\s*)?"
                     rf"({_NUM})\s*(?:minutes?|mins?|m)\b"),
        ("hours", rf"(?:({_APPROX})\s+)?({_NUM})\s*(?:hours?|hrs?|h)\b"),
        ("percent", rf"(?:({_APPROX})\s+)?({_NUM})\s*(?:%|percent\b|per\s+cent\b)"),
        ("minutes", rf"(?:({_APPROX})\s+)?({_NUM})\s*(?:minutes?|mins?)\b"),
        ("rank", r"(?:#|\bno\.\s*|\bnumber\s+)(\d+)\b|\b(\d+)(?:st|nd|rd|th)\b"),
        ("number", rf"(?:({_APPROX})\s+)?({_NUM})"),
        ("word", r"\b(" + "|".join(_WORD_NUMBERS) + r")\b"),
    )
)  # fmt: skip


def mentions(text: str) -> list[Mention]:
    """Every number, time and date a reader would see in `text`, each read once."""
    found: list[Mention] = []
    for kind, pattern in _PATTERNS:
        for match in pattern.finditer(text):
            found.append(_read(kind, match))
        text = pattern.sub(" ", text)
    return found


def _read(kind: str, match: re.Match[str]) -> Mention:
    text = match.group(0)
    if kind == "date":
        return Mention("date", Decimal(0), 0, text, on=_date_parts(match))
    if kind == "clock":
        hour, minute = _clock(match)
        return Mention("clock", Decimal(hour), 0, text, minute=minute)
    if kind == "word":
        return Mention("word", Decimal(_WORD_NUMBERS[match.group(1).lower()]), 0, text)
    if kind == "rank":
        return Mention("rank", Decimal(match.group(1) or match.group(2)), 0, text)
    if kind == "duration":
        hours, minutes = _number(match.group(2)), _number(match.group(3))
        return Mention("minutes", hours * 60 + minutes, 0, text, match.group(1) is not None)
    value = _number(match.group(2))
    return Mention(kind, value, _places(match.group(2)), text, match.group(1) is not None)


def _number(digits: str) -> Decimal:
    return Decimal(digits.replace(",", ""))


def _places(digits: str) -> int:
    return len(digits.split(".")[1]) if "." in digits else 0


def _clock(match: re.Match[str]) -> tuple[int, int]:
    word = match.group(1).lower()
    if word in ("midnight", "noon", "midday"):
        return (0 if word == "midnight" else 12), 0
    hour, minute = int(word), int(match.group(2) or 0)
    if match.re.groups == 3:
        hour = hour % 12 + (12 if match.group(3).lower() == "p" else 0)
    return hour, minute


def _date_parts(match: re.Match[str]) -> tuple[int | None, int, int]:
    """(year or None, month, day) of a written date; ISO dates carry their year."""
    groups = match.groups()
    if len(groups[0]) == 4:
        return int(groups[0]), int(groups[1]), int(groups[2])
    day, month = (groups[0], groups[1]) if groups[0].isdigit() else (groups[1], groups[0])
    return (int(groups[2]) if groups[2] else None), _month_number(month), int(day)


def _month_number(text: str) -> int:
    prefix = text[:3].casefold()
    return next(i + 1 for i, name in enumerate(fmt.MONTH_NAMES) if name[:3].casefold() == prefix)


# --- matching numbers to the facts ------------------------------------------------------


def grounded(mention: Mention, facts: Facts) -> bool:
    """Whether `mention` is a value of the facts after the documented rounding."""
    if mention.kind == "clock":
        return _clock_grounded(mention, facts.stats)
    if mention.kind == "date":
        return mention.on is not None and _date_grounded(mention.on, facts.stats)
    if mention.kind == "rank":
        return 1 <= mention.value <= RANKS or mention.value in facts.counts
    if mention.kind == "word":
        return mention.value in facts.counts
    candidates = {
        "minutes": facts.minutes,
        "hours": [m / 60 for m in facts.minutes],
        "percent": [s * 100 for s in facts.shares],
    }.get(mention.kind, facts.counts)
    return any(_matches(mention, value) for value in candidates)


def _matches(mention: Mention, value: Decimal) -> bool:
    step = Decimal(1).scaleb(-mention.places)
    if value.quantize(step, rounding=ROUND_HALF_UP) == mention.value:
        return True
    return mention.approximate and abs(mention.value - value) <= value * Decimal(APPROXIMATE)


def _clock_grounded(mention: Mention, stats: ListeningStats) -> bool:
    moment = (int(mention.value), mention.minute)
    if moment in LATE_NIGHT_EDGES:
        return True
    return stats.peak_hour is not None and moment == (stats.peak_hour, 0)


def _date_grounded(on: tuple[int | None, int, int], stats: ListeningStats) -> bool:
    year, month, day = on
    span = (stats.period_end - stats.period_start).days
    days = [stats.period_start + timedelta(days=i) for i in range(span)]
    return any((d.month, d.day) == (month, day) and year in (None, d.year) for d in days)


# --- names ------------------------------------------------------------------------------

_QUOTED = re.compile(r'"([^"\n]{1,200})"|“([^”\n]{1,200})”|‘([^’\n]{1,200})’|«([^»\n]{1,200})»')
_AFTER_BY = re.compile(
    r"\bby\s+([\"“‘«]?[A-Z0-9À-ÖØ-Þ][\w'’&.\-]*(?:\s+[A-Z0-9À-ÖØ-Þ&][\w'’&.\-]*)*)"
)
_SURROUNDING = " \t\n.,;:!?-–—'’\"“”‘«»()"


def _name_pattern(names: set[str]) -> re.Pattern[str] | None:
    """One pattern for every known name where it stands whole, never inside a number."""
    if not names:
        return None
    ordered = sorted(names, key=len, reverse=True)
    alternatives = "|".join(re.escape(n) for n in ordered)
    return re.compile(rf"(?<![\w.,])(?:{alternatives})(?!\w|[.,]\d)", re.IGNORECASE)


def _unknown_names(text: str) -> Iterator[str]:
    """Quoted titles, and names after "by", left in `text` once the known names are out."""
    for match in _QUOTED.finditer(text):
        inner = next(g for g in match.groups() if g is not None)
        if inner.strip(_SURROUNDING):
            yield match.group(0)
    for match in _AFTER_BY.finditer(_QUOTED.sub(" ", text)):
        name = match.group(1).strip(_SURROUNDING)
        if name and normalize(name) not in _SAFE_AFTER_BY and not name[0].isdigit():
            yield name


# --- the facts ----------------------------------------------------------------------------


def _numeric_leaves(value: Any, path: str = "") -> Iterator[tuple[str, float]]:
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from _numeric_leaves(inner, f"{path}.{key}")
    elif isinstance(value, list):
        for inner in value:
            yield from _numeric_leaves(inner, path)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        yield path, float(value)


def _names(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, inner in value.items():
            if key in ("name", "artist") and isinstance(inner, str):
                yield inner
            else:
                yield from _names(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _names(inner)


def _is_minutes(path: str) -> bool:
    return "minutes" in path or path.startswith(".trend_4w")


def _is_share(path: str) -> bool:
    return path.endswith("_share") or path == ".artist_diversity"

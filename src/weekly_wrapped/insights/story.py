"""Numbers and words for stories: every number a writer prints is formatted here.

The grounding rule (DESIGN §7) is that every number in a story is a value of the
stats after rounding. These are the roundings, and the only ways a number is written:

- a count (streams, skips, plays, artists, days): the integer, ``1,234``;
- minutes: at most one decimal, a trailing ``.0`` dropped, ``1,234.5`` / ``45``;
- hours: a minutes value divided by 60, at most one decimal, always followed by
  the word "hours" (``8.5 hours``);
- a share (0–1): times 100, a whole number, followed by ``%`` (``42%``);
- an hour of the day (`peak_hour`): ``9 am``, ``9 pm``, ``noon``, ``midnight``;
- a change (`vs_last_week`): its magnitude, with the sign said in words
  ("more", "fewer", "less").

Rounding is half up. Numbers are never spelled out in words, and dates and week
numbers are never written in story text.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal

DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTH_NAMES = (
    "January", "February", "March", "April", "May", "June", "July", "August",
    "September", "October", "November", "December",
)  # fmt: skip


def _half_up(value: Decimal, places: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def _decimal(value: float) -> Decimal:
    # repr gives the shortest text that round-trips, so 0.285 stays 0.285, not 0.28499…
    return Decimal(repr(float(value))).copy_abs()


def _one_decimal(value: Decimal) -> str:
    return f"{_half_up(value, 1):,.1f}".removesuffix(".0")


def count(value: int) -> str:
    """A count as digits with thousands separators: ``1,234``."""
    return f"{abs(value):,}"


def counted(value: int, singular: str, plural: str | None = None) -> str:
    """A count with its noun: ``1 stream``, ``12 streams``."""
    noun = singular if abs(value) == 1 else (plural or singular + "s")
    return f"{count(value)} {noun}"


def minutes(value: float) -> str:
    """Minutes as stored (one decimal), a trailing ``.0`` dropped: ``512.3``, ``45``."""
    return _one_decimal(_decimal(value))


def in_minutes(value: float) -> str:
    """Minutes with their unit: ``1 minute``, ``512.3 minutes``."""
    text = minutes(value)
    return f"{text} minute" if text == "1" else f"{text} minutes"


def hours(minutes_value: float) -> str:
    """A minutes value as hours, with its unit: ``8.5 hours``."""
    value = _one_decimal(_decimal(minutes_value) / 60)
    return f"{value} hour" if value == "1" else f"{value} hours"


def percent(share: float) -> str:
    """A 0–1 share as a whole percentage: ``0.423`` → ``42%``."""
    return f"{_half_up(_decimal(share).scaleb(2), 0)}%"


def clock(hour: int) -> str:
    """An hour of the day on a 12-hour clock: ``9 am``, ``noon``, ``9 pm``, ``midnight``."""
    if hour == 0:
        return "midnight"
    if hour == 12:
        return "noon"
    return f"{hour} am" if hour < 12 else f"{hour - 12} pm"


def day_name(weekday: int) -> str:
    """0 → Monday … 6 → Sunday."""
    return DAY_NAMES[weekday]


def month_name(month: int) -> str:
    """1 → January … 12 → December."""
    return MONTH_NAMES[month - 1]


def join_names(names: Sequence[str]) -> str:
    """``A``, ``A and B``, ``A, B and C``."""
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def word_count(text: str) -> int:
    """Words as a reader counts them: runs of non-space characters."""
    return len(text.split())


def truncate_words(text: str, limit: int) -> str:
    """`text` cut to at most `limit` words, marked with an ellipsis when cut."""
    words = text.split()
    if len(words) <= limit:
        return text
    return " ".join(words[:limit]).rstrip(",;:") + "…"


def fit_words(sentences: Sequence[str | None], limit: int) -> str:
    """Join sentences in reading order, skipping any that would pass `limit` words.

    Earlier sentences win when space runs out, so put what must be said first. The
    first sentence is always kept, cut to the limit if it alone is too long.
    """
    present = [s for s in sentences if s]
    if not present:
        return ""
    kept = [truncate_words(present[0], limit)]
    used = word_count(kept[0])
    for sentence in present[1:]:
        if used + word_count(sentence) <= limit:
            kept.append(sentence)
            used += word_count(sentence)
    return " ".join(kept)

"""Deterministic choice among phrasings, seeded by user and period."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TypeVar

from weekly_wrapped.insights.models import ListeningStats

T = TypeVar("T")


class Voice:
    """Picks phrasings the same way every time for one user and period.

    Each slot ("headline", "closing", …) is seeded on its own, so adding a
    phrasing to one slot never changes the words chosen for another.
    """

    def __init__(self, stats: ListeningStats) -> None:
        period = stats.week or f"{stats.period_start.isoformat()}/{stats.period_end.isoformat()}"
        self._seed = f"{stats.user_id}|{period}"

    def pick(self, slot: str, options: Sequence[T]) -> T:
        """One of `options` for `slot`; stable across runs, processes and Python versions."""
        digest = hashlib.blake2b(f"{self._seed}|{slot}".encode(), digest_size=8).digest()
        return options[int.from_bytes(digest, "big") % len(options)]

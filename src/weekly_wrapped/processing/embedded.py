"""The embedded processor: validates micro-batches and writes them to the warehouse."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any

from sqlalchemy import Connection, Engine

from weekly_wrapped.errors import InvalidEvent
from weekly_wrapped.events import PlayEvent, parse_event
from weekly_wrapped.processing.transform import (
    Context,
    PlayRow,
    Rejected,
    Timed,
    estimate_gaps,
    rejected_from_raw,
    transform,
)
from weekly_wrapped.warehouse import queries
from weekly_wrapped.warehouse.writer import WriteResult, write_rows

Message = PlayEvent | bytes | str | dict[str, Any]


def decode(messages: Iterable[Message]) -> tuple[list[PlayEvent], list[Rejected]]:
    """Split messages into valid events and rejects, each reject with its reason."""
    events: list[PlayEvent] = []
    rejected: list[Rejected] = []
    for message in messages:
        if isinstance(message, PlayEvent):
            events.append(message)
            continue
        try:
            events.append(parse_event(message))
        except InvalidEvent as exc:
            rejected.append(rejected_from_raw(message, f"invalid PlayEvent: {exc}"))
    return events, rejected


class EmbeddedProcessor:
    """Writes batches of PlayEvents to the warehouse, one transaction per batch."""

    def __init__(
        self,
        engine: Engine,
        *,
        batch_size: int = 5000,
        max_future_skew: timedelta = timedelta(minutes=5),
    ) -> None:
        self.engine = engine
        self.batch_size = batch_size
        self.max_future_skew = max_future_skew

    def process(self, messages: Iterable[Message]) -> WriteResult:
        """Process any number of messages, in batches of `batch_size`."""
        total = WriteResult()
        for batch in _chunks(messages, self.batch_size):
            total += self.process_batch(batch)
        return total

    def process_batch(self, batch: Sequence[Message]) -> WriteResult:
        """Validate, transform and write one batch atomically; bad events go to quarantine."""
        events, rejected = decode(batch)
        with self.engine.begin() as conn:
            context = Context(
                timezones=queries.timezones(conn, (e.user_id for e in events)),
                previous_end=queries.previous_play_ends(conn, _first_unmeasured(events)),
                now=datetime.now(UTC),
                max_future_skew=self.max_future_skew,
            )
            rows = transform(events, context)
            rows.rejected[:0] = rejected
            result = write_rows(conn, rows)
            reestimate_neighbours(conn, rows.plays)
            return result


def reestimate_neighbours(conn: Connection, plays: Sequence[PlayRow]) -> None:
    """Re-estimate API plays whose previous play has just changed.

    A play that arrives late (out of order, or from an export) can shorten the gap
    before an estimated play; recomputing keeps the warehouse independent of
    arrival order.
    """
    if not plays:
        return
    spans: dict[int, tuple[datetime, datetime]] = {}
    for play in plays:
        first, last = spans.get(play.user_key, (play.played_at_utc, play.played_at_utc))
        spans[play.user_key] = (min(first, play.played_at_utc), max(last, play.played_at_utc))
    since = min(first for first, _ in spans.values())
    for user_key in queries.users_with_estimates_since(conn, spans, since):
        window = queries.plays_around(conn, user_key, *spans[user_key])
        first = spans[user_key][0]
        timed = [
            Timed(p.play_id, at, p.duration_ms, p.ms_played_estimated and at >= first)
            for p in window
            if (at := queries.as_utc(p.played_at))
        ]
        current = {p.play_id: p.ms_played for p in window}
        changed = {k: v for k, v in estimate_gaps(timed, None).items() if current[k] != v}
        queries.set_ms_played(conn, changed)


def _first_unmeasured(events: Sequence[PlayEvent]) -> dict[int, datetime]:
    """Each user's earliest play whose `ms_played` must be estimated."""
    first: dict[int, datetime] = {}
    for event in events:
        if event.ms_played is None:
            known = first.get(event.user_id)
            if known is None or event.played_at < known:
                first[event.user_id] = event.played_at
    return first


def _chunks(items: Iterable[Message], size: int) -> Iterator[list[Message]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch

"""The embedded processor: validates micro-batches and writes them to the warehouse.

Each batch: decode and validate, drop plays already stored (by event id), transform,
match plays that another source also reported (`processing.dedupe`), then write.

One writer per user at a time: two processes matching the same user's plays at
once (a poll and an import) would each miss the other's new plays and store a
listen twice. On PostgreSQL each batch's transaction takes a lock per user in it
(`pg_advisory_xact_lock`, in user order, so two batches never deadlock) before
it reads anything it matches against; the lock ends with the transaction.
SQLite needs none: it lets one writer in at a time already.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from itertools import islice

import orjson
from sqlalchemy import Connection, Engine, func, select

from weekly_wrapped.errors import InvalidEvent
from weekly_wrapped.events import Play, PlayEvent, read_event
from weekly_wrapped.processing import dedupe
from weekly_wrapped.processing.processor import Message, QuarantineSink, RejectSink, StageTimes
from weekly_wrapped.processing.transform import (
    Context,
    Timed,
    estimate_gaps,
    rejected_from_raw,
    transform,
)
from weekly_wrapped.rows import PlayRow, Rejected
from weekly_wrapped.warehouse import queries
from weekly_wrapped.warehouse.schema import fact_play, fact_play_merged
from weekly_wrapped.warehouse.writer import (
    WriteResult,
    delete_plays,
    write_dimensions,
    write_merged,
    write_plays,
)

_WRITER_LOCK_SPACE = 0x57525057
"""The first key of the per-user writer locks on PostgreSQL ("WRPW"); the second is the user.
Not the import lock's space: an import holds that one while its batches take this one."""


def decode(messages: Iterable[Message]) -> tuple[list[Play], list[Rejected]]:
    """Split messages into valid events and rejects, each reject with its reason.

    A PlayEvent was validated when it was made, and is taken as it is; raw messages
    are validated here, once (`events.read_event`).
    """
    events: list[Play] = []
    rejected: list[Rejected] = []
    for message in messages:
        if isinstance(message, PlayEvent):
            events.append(message)
            continue
        try:
            raw = message if isinstance(message, bytes | str) else orjson.dumps(message)
            events.append(read_event(raw))
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
        rejects: RejectSink | None = None,
        times: StageTimes | None = None,
    ) -> None:
        self.engine = engine
        self.batch_size = batch_size
        self.max_future_skew = max_future_skew
        self.rejects = rejects or QuarantineSink()
        self.times = times or StageTimes()

    def process(self, messages: Iterable[Message]) -> WriteResult:
        """Process any number of messages, in batches of `batch_size`."""
        total = WriteResult()
        for batch in _chunks(messages, self.batch_size):
            with cyclic_gc_paused():
                total += self.process_batch(batch)
        return total

    def process_batch(self, batch: Sequence[Message]) -> WriteResult:
        """Validate, transform and write one batch atomically; bad events go to the sink."""
        with self.engine.connect() as conn:
            result = self.write_batch(conn, batch)
            with self.times("write"):
                conn.commit()
            return result

    def write_batch(self, conn: Connection, batch: Sequence[Message]) -> WriteResult:
        """Like `process_batch`, inside the caller's transaction (an import writes a file at once)."""
        with self.times("validation"):
            events, rejected = decode(batch)
        with self.times("dedupe"):
            lock_users(conn, {e.user_id for e in events})
            fresh = unseen(conn, events)
        result = self.write_new(conn, fresh, rejected)
        result.received = len(batch)
        result.duplicates += len(events) - len(fresh)
        return result

    def write_new(
        self, conn: Connection, events: Sequence[Play], rejected: Sequence[Rejected] = ()
    ) -> WriteResult:
        """Write events that `unseen` found new in this transaction; reject `rejected`.

        The caller holds the lock of every user in `events` (`lock_users`).
        """
        with self.times("transform"):
            context = Context(
                timezones=queries.timezones(conn, (e.user_id for e in events)),
                previous_end=queries.previous_play_ends(conn, _first_unmeasured(events)),
                now=datetime.now(UTC),
                max_future_skew=self.max_future_skew,
            )
            rows = transform(events, context)
            rows.rejected[:0] = rejected
        with self.times("dedupe"):
            plan = plan_merges(conn, rows.plays)
        with self.times("write"):
            write_dimensions(conn, rows)
            added, conflicts = apply_merge_plan(conn, plan)
            self.rejects.put(conn, rows.rejected, stage="processor")
            reestimate_neighbours(conn, [*plan.store, *plan.unstore])
        return WriteResult(
            received=len(events) + len(rejected),
            inserted=added,
            duplicates=conflicts,
            merged=len(rows.plays) - added - conflicts,
            quarantined=len(rows.rejected),
        )


def lock_users(conn: Connection, user_keys: Iterable[int]) -> None:
    """Hold each user's writer lock until the transaction ends (PostgreSQL; see the module)."""
    if conn.dialect.name != "postgresql":
        return
    for user_key in sorted(set(user_keys)):
        conn.execute(select(func.pg_advisory_xact_lock(_WRITER_LOCK_SPACE, user_key)))


def unseen(conn: Connection, events: Sequence[Play]) -> list[Play]:
    """The events not yet in the warehouse, each once: re-sent plays change nothing."""
    known = queries.known_play_ids(conn, [e.event_id for e in events])
    fresh: list[Play] = []
    for event in events:
        if event.event_id not in known:
            known.add(event.event_id)
            fresh.append(event)
    return fresh


def plan_merges(conn: Connection, plays: Sequence[PlayRow]) -> dedupe.MergePlan:
    """Match new plays with what other sources reported; plays of other sources just land."""
    plan = dedupe.MergePlan(store=[p for p in plays if not dedupe.mergeable(p)])
    by_user: dict[int, list[PlayRow]] = {}
    for play in plays:
        if dedupe.mergeable(play):
            by_user.setdefault(play.user_key, []).append(play)
    for user_key, incoming in by_user.items():
        user_plan = dedupe.plan(incoming, known_components(conn, user_key, incoming))
        plan.store += user_plan.store
        plan.unstore += user_plan.unstore
        plan.merge += user_plan.merge
        plan.unmerge += user_plan.unmerge
    return plan


def known_components(
    conn: Connection, user_key: int, incoming: Sequence[PlayRow]
) -> list[queries.MergeablePlay]:
    """Every known play in the chains of plays (of one song, near in time) that `incoming` touch.

    Reads spans around the new plays, and widens them until no chain runs past an edge.
    """
    songs = {p.song_key for p in incoming}
    found: dict[str, queries.MergeablePlay] = {}
    covered: list[queries.Span] = []
    wanted = dedupe.spans_around([p.played_at_utc for p in incoming])
    while wanted:
        for known in queries.mergeable_plays(conn, user_key, songs, wanted, dedupe.PRIORITY):
            found[known[0].play_id] = known
        if not found:
            return []  # the spans read cover every chain of the new plays alone
        covered += wanted
        touched = _touched(incoming, found)
        wanted = dedupe.uncovered([dedupe.reach_of(chain) for chain in touched], covered)
    return [
        found[p.play_id] for chain in _touched(incoming, found) for p in chain if p.play_id in found
    ]


def _touched(
    incoming: Sequence[PlayRow], found: dict[str, queries.MergeablePlay]
) -> list[list[PlayRow]]:
    new = {p.play_id for p in incoming}
    chains = dedupe.components([*incoming, *(play for play, _ in found.values())])
    return [chain for chain in chains if any(p.play_id in new for p in chain)]


def apply_merge_plan(conn: Connection, plan: dedupe.MergePlan) -> tuple[int, int]:
    """Write a merge plan; return (how many more stored plays, plays already there)."""
    delete_plays(conn, fact_play_merged, plan.unmerge)
    removed = delete_plays(conn, fact_play, [p.play_id for p in plan.unstore])
    inserted = write_plays(conn, plan.store)
    write_merged(conn, plan.merge)
    return inserted - removed, len(plan.store) - inserted


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


def _first_unmeasured(events: Sequence[Play]) -> dict[int, datetime]:
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


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a batch or a file is processed.

    Each batch makes tens of thousands of short-lived objects that reference counting
    frees. The collector would rescan them, and every loaded module, again and again:
    measured, that doubled the time of an import. The few cycles wait for the end.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
        gc.collect(1)

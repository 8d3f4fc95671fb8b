"""What every processor is: raw messages in, a write result out; rejects to a sink.

The embedded processor is one; the Spark job will be another. A bus hands its
batches to a `Processor` (`bus.factory.open_bus` chooses which), and a processor
sends what it cannot take to the `RejectSink` it was given: the quarantine table
by default, the dead-letter topic with Kafka.

A batch is a sequence of messages. PlayEvents made by our own sources were
checked when they were made and are taken as they are; raw messages (the bytes
of a PlayEvent's JSON, from Kafka or any producer) are validated once, by msgspec
(`events.read_event`), and a bad one reaches the sink with pydantic's words for
why. `write_batch(conn, batch)` runs inside the caller's transaction, so a consumer
commits its offsets after the batch's writes commit. `StageTimes` is how the
benchmarks see where a batch's time goes.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

from sqlalchemy import Connection

from weekly_wrapped.events import PlayEvent
from weekly_wrapped.rows import Rejected
from weekly_wrapped.warehouse.writer import WriteResult, write_quarantine

Message = PlayEvent | bytes | str | dict[str, Any]
"""A raw message on the bus: an event, or its JSON as text, bytes or a dict."""


class Processor(Protocol):
    """Validates, transforms and writes batches of messages to the warehouse."""

    def process(self, messages: Iterable[Message]) -> WriteResult:
        """Process messages in batches, each batch in a transaction of its own."""
        ...

    def write_batch(self, conn: Connection, batch: Sequence[Message]) -> WriteResult:
        """Process one batch inside the caller's transaction."""
        ...


class RejectSink(Protocol):
    """Where a processor sends the messages it rejects, each with its reason."""

    def put(self, conn: Connection, rejected: Sequence[Rejected], *, stage: str) -> None:
        """Keep `rejected`; `conn` is the batch's transaction, for a sink in the warehouse."""
        ...


class QuarantineSink:
    """The quarantine table, written in the batch's transaction: each reject kept once."""

    def put(self, conn: Connection, rejected: Sequence[Rejected], *, stage: str) -> None:
        write_quarantine(conn, rejected, stage=stage)


class StageTimes:
    """Seconds a processor spent in each stage, summed over batches: the benchmarks' profile.

    Wall time, and this process's CPU time (steadier on a busy machine; it leaves out
    the database server's). Timed per batch, never per play, so it costs nothing.
    """

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.cpu_seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        started, cpu = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self.seconds[stage] = self.seconds.get(stage, 0.0) + time.perf_counter() - started
            spent = time.process_time() - cpu
            self.cpu_seconds[stage] = self.cpu_seconds.get(stage, 0.0) + spent

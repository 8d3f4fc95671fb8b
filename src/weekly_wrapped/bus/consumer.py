"""The Kafka consumer: batches of plays into the warehouse, exactly once in effect (DESIGN §5).

Each batch is written through the processor in one database transaction. Its dead
letters are sent in a Kafka transaction that commits, after the database, with the
batch's offsets: a crash at any point reads the batch again, the processor's
writes, idempotent by event id, make the second time change nothing, and the
aborted transaction's letters are never seen. While the database is
down the consumer holds the batch and tries it again and again, with a growing
pause, reading nothing further and committing nothing.
A stop (SIGTERM) ends the loop between batches, never inside one.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from weekly_wrapped.bus.kafka import Batch, DeadLetters, Delivery, PlayConsumer
from weekly_wrapped.errors import WrappedError
from weekly_wrapped.processing.processor import Processor
from weekly_wrapped.warehouse.writer import WriteResult

log = logging.getLogger(__name__)

MAX_BACKOFF_S = 30.0


@dataclass
class ConsumeReport:
    """What a run of the consumer did."""

    batches: int = 0
    messages: int = 0
    written: WriteResult = field(default_factory=WriteResult)
    dead_lettered: int = 0
    retries: int = 0

    @property
    def rejected(self) -> int:
        """Messages not written: all of them go to the dead-letter topic."""
        return self.dead_lettered


@dataclass(frozen=True)
class BatchLine:
    """One batch, as the consumer logs it."""

    messages: int
    written: int
    rejected: int
    lag: int
    seconds: float

    def __str__(self) -> str:
        return (
            f"batch: {self.messages} in, {self.written} written, {self.rejected} rejected, "
            f"lag {self.lag} ({self.seconds * 1000:.0f} ms)"
        )


class PlayStream:
    """Reads the play topic into the warehouse until stopped, or (`until_idle`) caught up."""

    def __init__(
        self,
        engine: Engine,
        processor: Processor,
        source: PlayConsumer,
        dead_letters: DeadLetters,
        delivery: Delivery,
        *,
        batch_size: int,
        poll_timeout_s: float,
    ) -> None:
        self.engine = engine
        self.processor = processor
        self.source = source
        self.dead_letters = dead_letters
        self.delivery = delivery
        self.batch_size = batch_size
        self.poll_timeout_s = poll_timeout_s
        self.stopping = threading.Event()
        self.report = ConsumeReport()

    def stop(self) -> None:
        """Finish the batch in hand, commit it, and return from `run`."""
        self.stopping.set()

    def run(self, *, until_idle: bool = False) -> ConsumeReport:
        """Consume until `stop`, or, with `until_idle`, until the group has read everything."""
        try:
            while not self.stopping.is_set():
                if not self.step() and until_idle and self.source.group_caught_up():
                    break
        finally:
            self.source.close()
        return self.report

    def step(self) -> bool:
        """Read and write one batch; whether there was one."""
        batch = self.source.read(self.batch_size, self.poll_timeout_s)
        if not batch.messages:
            return False
        started = time.monotonic()
        written = self.write_or_hold(batch)
        if written is None:
            return True  # stopped while the batch could not be written: it is read again
        if not self.delivery.commit_with(batch.next_offsets(), self.source.group_metadata()):
            self.source.rewind(batch)
            return True
        self.count(batch, written, time.monotonic() - started)
        return True

    def write_or_hold(self, batch: Batch) -> WriteResult | None:
        """Write the batch, trying again while the failure is transient; None once stopped.

        Between tries the consumer holds its partitions without reading on, with a
        pause that doubles up to `MAX_BACKOFF_S`; nothing is committed meanwhile.
        """
        backoff_s = 0.0
        while True:
            try:
                return self.write(batch)
            except Exception as exc:
                if not _transient(exc):
                    raise
                backoff_s = min(MAX_BACKOFF_S, backoff_s * 2 or 1.0)
                self.report.retries += 1
                log.warning(
                    "batch of %d not written (%s); trying again in %.0f s",
                    len(batch.messages),
                    _one_line(exc),
                    backoff_s,
                )
            if self.stopping.is_set():
                return None
            batch = self.source.hold(backoff_s, batch)
            if self.stopping.is_set():
                return None

    def write(self, batch: Batch) -> WriteResult:
        """Write the batch's plays in one database transaction, and send its dead letters
        in a Kafka transaction that `step` commits with the offsets (aborted on failure)."""
        self.delivery.begin()
        self.dead_letters.batch = batch
        try:
            for message, reason in batch.foreign:
                self.dead_letters.put_message(message, reason, stage="consumer")
            written = WriteResult()
            if batch.plays:
                with self.engine.begin() as conn:
                    written = self.processor.write_batch(conn, batch.plays)
            self.dead_letters.send_pending()
        except BaseException:
            self.delivery.abort()
            raise
        finally:
            self.dead_letters.batch = None
            self.dead_letters.discard_pending()
        return written

    def count(self, batch: Batch, written: WriteResult, seconds: float) -> None:
        rejected = len(batch.foreign) + written.quarantined
        line = BatchLine(
            len(batch.messages),
            written.inserted + written.merged,
            rejected,
            self.source.lag(),
            seconds,
        )
        log.info("%s", line, extra={"messages": line.messages, "lag": line.lag})
        report = self.report
        report.batches += 1
        report.messages += line.messages
        report.written += written
        report.dead_lettered += rejected


def _transient(exc: Exception) -> bool:
    """Whether trying the batch again later may succeed: the database or Kafka was away."""
    if isinstance(exc, WrappedError):
        return exc.transient
    return isinstance(exc, DBAPIError) and (
        exc.connection_invalidated or type(exc).__name__ in {"OperationalError", "InterfaceError"}
    )


def _one_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__

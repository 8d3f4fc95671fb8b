"""The in-process bus: hands batches straight to the processor."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection

from weekly_wrapped.bus import Ack
from weekly_wrapped.events import PlayEvent
from weekly_wrapped.processing.processor import Processor


class LocalBus:
    """Publishing is processing: once `publish` returns, the plays are in the warehouse."""

    def __init__(self, processor: Processor, conn: Connection | None = None) -> None:
        self.processor = processor
        self.conn = conn

    def publish(self, events: Iterable[PlayEvent]) -> Ack:
        batch = list(events)
        if self.conn is None:
            written = self.processor.process(batch)
        else:
            written = self.processor.write_batch(self.conn, batch)
        return Ack(len(batch), written)

    def in_transaction(self, conn: Connection) -> LocalBus:
        """Write in `conn`'s transaction: the caller commits the plays with its own rows."""
        return LocalBus(self.processor, conn)

"""The in-process bus: hands batches straight to the embedded processor."""

from __future__ import annotations

from collections.abc import Iterable

from weekly_wrapped.events import PlayEvent
from weekly_wrapped.processing.embedded import EmbeddedProcessor
from weekly_wrapped.warehouse.writer import WriteResult


class LocalBus:
    """Publishing is processing: once `publish` returns, the plays are in the warehouse."""

    def __init__(self, processor: EmbeddedProcessor) -> None:
        self.processor = processor

    def publish(self, events: Iterable[PlayEvent]) -> WriteResult:
        return self.processor.process(events)

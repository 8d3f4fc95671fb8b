"""Transports from sources to the processor: in-process or Kafka (DESIGN §1)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from weekly_wrapped.events import PlayEvent
from weekly_wrapped.warehouse.writer import WriteResult


class Bus(Protocol):
    """Where sources publish PlayEvents. `publish` returns once the bus has accepted them."""

    def publish(self, events: Iterable[PlayEvent]) -> WriteResult: ...

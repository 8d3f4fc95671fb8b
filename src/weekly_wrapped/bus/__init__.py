"""Transports from sources to the processor: in-process or Kafka (DESIGN §1)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Protocol

from sqlalchemy import Engine

from weekly_wrapped.bus.local import LocalBus
from weekly_wrapped.config import Settings
from weekly_wrapped.errors import ConfigError
from weekly_wrapped.events import PlayEvent
from weekly_wrapped.processing.embedded import EmbeddedProcessor
from weekly_wrapped.warehouse.writer import WriteResult


class Bus(Protocol):
    """Where sources publish PlayEvents. `publish` returns once the bus has accepted them."""

    def publish(self, events: Iterable[PlayEvent]) -> WriteResult: ...


def open_bus(engine: Engine, settings: Settings) -> Bus:
    """The bus `WRAPPED_BUS` names, feeding the processor `WRAPPED_ENGINE` names."""
    if settings.bus != "local" or settings.engine != "embedded":
        raise ConfigError(
            f"WRAPPED_BUS={settings.bus} with WRAPPED_ENGINE={settings.engine} is not available "
            "in this version",
            hint="Use WRAPPED_BUS=local and WRAPPED_ENGINE=embedded (the defaults).",
        )
    processor = EmbeddedProcessor(
        engine,
        batch_size=settings.batch_size,
        max_future_skew=timedelta(seconds=settings.max_future_skew_s),
    )
    return LocalBus(processor)

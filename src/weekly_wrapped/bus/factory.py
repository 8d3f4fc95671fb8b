"""The one composition root: the bus `WRAPPED_BUS` names, feeding the processor
`WRAPPED_ENGINE` names, which rejects to its sink."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine

from weekly_wrapped.bus import Bus
from weekly_wrapped.bus.local import LocalBus
from weekly_wrapped.config import Settings
from weekly_wrapped.errors import ConfigError
from weekly_wrapped.processing.embedded import EmbeddedProcessor
from weekly_wrapped.processing.processor import QuarantineSink


def open_bus(engine: Engine, settings: Settings) -> Bus:
    """The configured bus; `Settings` has already refused combinations that cannot work."""
    if settings.bus != "local" or settings.engine != "embedded":
        raise ConfigError(
            f"WRAPPED_BUS={settings.bus} with WRAPPED_ENGINE={settings.engine} is not available "
            "in this version",
            hint="Use WRAPPED_BUS=local and WRAPPED_ENGINE=embedded (the defaults).",
        )
    return local_bus(
        engine,
        batch_size=settings.batch_size,
        max_future_skew=timedelta(seconds=settings.max_future_skew_s),
    )


def local_bus(
    engine: Engine, *, batch_size: int = 5000, max_future_skew: timedelta = timedelta(minutes=5)
) -> LocalBus:
    """The in-process bus over the embedded processor, rejecting to the quarantine table."""
    processor = EmbeddedProcessor(
        engine, batch_size=batch_size, max_future_skew=max_future_skew, rejects=QuarantineSink()
    )
    return LocalBus(processor)

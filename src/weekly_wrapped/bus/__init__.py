"""Transports from sources to the processor: in-process or Kafka (DESIGN §1).

A source publishes PlayEvents and gets back an `Ack`: how many the bus accepted.
What happens to them next (written, merged, quarantined) is the processor's
business. `bus.factory.open_bus` builds the configured bus and its processor.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import Connection

from weekly_wrapped.errors import TransientError
from weekly_wrapped.events import PlayEvent
from weekly_wrapped.warehouse.writer import WriteResult


@dataclass(frozen=True)
class Ack:
    """The bus has accepted `accepted` events: from now on they are its to deliver."""

    accepted: int
    written: WriteResult | None = None
    """What the processor wrote, for a bus that processes before it acknowledges (the
    local bus); None for a bus that only delivers (Kafka), whose plays land later."""


class BusRefused(TransientError):
    """The bus accepted fewer events than it was given."""


class Bus(Protocol):
    """Where sources publish PlayEvents. `publish` returns once the bus has accepted them."""

    def publish(self, events: Iterable[PlayEvent]) -> Ack: ...

    def in_transaction(self, conn: Connection) -> Bus:
        """This bus, writing inside `conn`'s transaction if it writes to the warehouse itself.

        A source that records its progress in `conn` after each acknowledgement then
        commits plays and progress together. A bus that delivers elsewhere returns
        itself: its acknowledgement comes first, and the progress after it.
        """
        ...


def acknowledged(ack: Ack, sent: int) -> Ack:
    """`ack`, or `BusRefused` when the bus accepted fewer than the `sent` events."""
    if ack.accepted < sent:
        raise BusRefused(f"the bus accepted {ack.accepted} of {sent} plays")
    return ack

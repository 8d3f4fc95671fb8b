"""What every email transport offers the mailer: `send`, with a hand-over call.

A transport calls `handover` at the last moment before the message can no longer be
taken back (before SMTP `DATA`, before the outbox file appears), so the mailer can
record "possibly sent" first and an interrupted run never sends twice. The
transports themselves (`transports`, `smtp`) depend on this module, never on each
other.
"""

from __future__ import annotations

from collections.abc import Callable
from email.message import EmailMessage
from typing import Protocol

from weekly_wrapped.delivery.ledger import DeliveryKey

Handover = Callable[[], None]
"""Called by a transport just before the message is out of our hands."""


class Transport(Protocol):
    """Hands a message over for delivery; returns where it went."""

    @property
    def name(self) -> str:
        """``outbox`` or ``smtp``."""
        ...

    def send(self, message: EmailMessage, key: DeliveryKey, handover: Handover) -> str:
        """Deliver `message`, calling `handover` just before it is out of our hands."""
        ...

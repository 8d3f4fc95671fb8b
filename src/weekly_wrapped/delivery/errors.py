"""Delivery errors, each marked transient (retry later) or terminal (retrying will not help)."""

from __future__ import annotations

from weekly_wrapped.errors import ConfigError, TerminalError, TransientError


class DeliveryDeferred(TransientError):
    """The mail server could not take the message now: refused, timed out, or replied 4xx."""

    hint = "It is retried with backoff; run the same command later to try again."


class DeliveryRejected(TerminalError):
    """The mail server refused the message for good: a 5xx reply or a bad address."""

    hint = "Fix the address or the message, then send again with --resend."


class DeliveryInDoubt(TerminalError):
    """The connection broke while the server was taking the message: it may have arrived."""

    hint = "Check the recipient's inbox; send again with --resend if it did not arrive."


class MailerConfigError(ConfigError):
    """The mail server cannot be used as configured: login, TLS or address settings."""

    hint = "Check WRAPPED_EMAIL and the WRAPPED_SMTP_* settings (see docs/email.md)."


class ClaimLost(TerminalError):
    """Another process took over this delivery before the message was handed over."""


class NotDeliverable(TerminalError):
    """A user cannot receive this email: no address, or they opted out."""

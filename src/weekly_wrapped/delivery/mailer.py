"""Exactly-once delivery of any email over the `delivery` ledger.

`deliver` claims the (user, week, channel) row, hands the message to the configured
transport, retries temporary failures through the app's retry policy
(`weekly_wrapped.retry`), and records every attempt.
A message goes out once per row; only ``resend=True`` sends it again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.message import EmailMessage
from email.utils import make_msgid, parseaddr
from typing import Concatenate, Literal, ParamSpec, TypeVar

from sqlalchemy import Connection, Engine

from weekly_wrapped.config import Settings
from weekly_wrapped.delivery import ledger
from weekly_wrapped.delivery.errors import ClaimLost, DeliveryInDoubt, MailerConfigError
from weekly_wrapped.delivery.handover import Transport
from weekly_wrapped.delivery.ledger import DeliveryKey, DeliveryRecord
from weekly_wrapped.delivery.transports import open_transport
from weekly_wrapped.errors import WrappedError
from weekly_wrapped.retry import RetryPolicy, Sleep, retrying

log = logging.getLogger(__name__)

Result = Literal["sent", "skipped", "failed"]
MAX_BACKOFF_S = 60.0
"""The longest wait between two tries of one email."""
P = ParamSpec("P")
T = TypeVar("T")


@dataclass(frozen=True)
class DeliveryOutcome:
    """What one `deliver` call did, and the ledger row's state afterwards."""

    result: Result
    """``sent`` now, ``skipped`` (not ours to send), or ``failed`` (see `detail`)."""
    status: str
    """The row's status afterwards: sent, sending, queued, deferred or failed."""
    attempts: int
    """Attempts recorded on the row, retries included."""
    message_id: str | None
    detail: str | None
    """Where it went when sent, why it was skipped, or the last error."""


def deliver(
    bind: Engine | Connection,
    settings: Settings,
    user_key: int,
    week_start: date,
    channel: str,
    message: EmailMessage,
    *,
    resend: bool = False,
    transport: Transport | None = None,
    sleep: Sleep | None = None,
) -> DeliveryOutcome:
    """Send `message` once for (user, week, channel), or say why it was not sent.

    Stamps a fresh Message-ID on `message`. Temporary failures are retried up to
    WRAPPED_EMAIL_ATTEMPTS times; a `MailerConfigError` (bad login, TLS) is recorded
    and raised, since it fails every message alike. Any other exception is recorded
    and reported as ``failed``, never retried here. Given a `Connection`, it commits
    on it after each step (use ``engine.connect()``, not ``engine.begin()``): the
    record must be durable before the message leaves.
    """
    key = DeliveryKey(user_key, week_start, channel)
    message_id = _stamp_message_id(message, settings)
    with _ledger_connection(bind) as conn:
        if not _step(conn, ledger.claim, key, message_id, resend):
            return _not_ours(ledger.read(conn, key))
        attempt = _Attempt(conn, key, message_id, transport or open_transport(settings))
        return attempt.run(message, settings, sleep)


@dataclass
class _Attempt:
    """The retry loop of one claimed delivery."""

    conn: Connection
    key: DeliveryKey
    message_id: str
    transport: Transport
    handed_over: bool = False

    def run(
        self, message: EmailMessage, settings: Settings, sleep: Sleep | None
    ) -> DeliveryOutcome:
        policy = RetryPolicy(
            attempts=settings.email_attempts,
            first_backoff_s=settings.email_backoff_s,
            max_backoff_s=MAX_BACKOFF_S,
            sleep=sleep,
        )
        what = f"the {self.key.channel} email of user {self.key.user_key}"
        try:
            where = retrying(lambda: self._send(message), policy, what, on_retry=self._retry_later)
        except ClaimLost as exc:
            return self._outcome("skipped", str(exc))
        except MailerConfigError as exc:
            self._fail(ledger.DEFERRED, str(exc))
            raise
        except WrappedError as exc:
            return self._give_up(exc)
        except Exception as exc:  # a bug or a library's surprise: kept, not retried
            return self._give_up_unexpectedly(exc)
        _step(self.conn, ledger.record_sent, self.key, self.message_id, datetime.now(UTC))
        log.info("delivered %s for user %s to %s", self.key.channel, self.key.user_key, where)
        return self._outcome("sent", where)

    def _send(self, message: EmailMessage) -> str:
        self.handed_over = False
        return self.transport.send(message, self.key, self._hand_over)

    def _retry_later(self, error: WrappedError) -> None:
        self._fail(ledger.QUEUED, str(error))

    def _hand_over(self) -> None:
        if not _step(self.conn, ledger.hand_over, self.key, self.message_id):
            raise ClaimLost(
                f"another run took over the {self.key.channel} email "
                f"of user {self.key.user_key} before it was sent"
            )
        self.handed_over = True

    def _give_up(self, exc: WrappedError) -> DeliveryOutcome:
        if isinstance(exc, DeliveryInDoubt):
            status = ledger.SENDING
        else:
            status = ledger.DEFERRED if exc.transient else ledger.FAILED
        self._fail(status, str(exc))
        return self._outcome("failed", str(exc))

    def _give_up_unexpectedly(self, exc: Exception) -> DeliveryOutcome:
        log.debug("%s email of user %s", self.key.channel, self.key.user_key, exc_info=True)
        # Once handed over it may have arrived: it stays `sending`, never sent twice.
        status = ledger.SENDING if self.handed_over else ledger.DEFERRED
        reason = f"unexpected {type(exc).__name__}: {exc}"
        self._fail(status, reason)
        return self._outcome("failed", reason)

    def _fail(self, status: str, error: str) -> None:
        log.warning("%s email of user %s: %s", self.key.channel, self.key.user_key, error)
        _step(self.conn, ledger.record_failure, self.key, self.message_id, status, error)

    def _outcome(self, result: Result, detail: str) -> DeliveryOutcome:
        record = ledger.read(self.conn, self.key)
        self.conn.commit()
        assert record is not None  # noqa: S101 - we claimed it
        return DeliveryOutcome(result, record.status, record.attempts, record.message_id, detail)


def skip_reason(record: DeliveryRecord) -> str | None:
    """Why a row with this record is not sent again without ``resend``; None if it may be."""
    if record.status == ledger.SENT:
        when = f" on {record.sent_at:%Y-%m-%d %H:%M} UTC" if record.sent_at else ""
        return f"already sent{when}; --resend sends it again"
    if record.status == ledger.SENDING:
        return (
            "a run was interrupted while handing it over, so it may have arrived; "
            "check, then use --resend"
        )
    if record.status == ledger.FAILED:
        return f"refused earlier ({record.last_error}); fix that, then use --resend"
    return None


def _not_ours(record: DeliveryRecord | None) -> DeliveryOutcome:
    assert record is not None  # noqa: S101 - a failed claim means the row exists
    reason = skip_reason(record) or "another run is sending it right now"
    return DeliveryOutcome("skipped", record.status, record.attempts, record.message_id, reason)


def _stamp_message_id(message: EmailMessage, settings: Settings) -> str:
    # An explicit domain: make_msgid's default asks DNS for this machine's name.
    domain = parseaddr(settings.smtp_from)[1].rpartition("@")[2] or "localhost"
    message_id = make_msgid("wrapped", domain=domain)
    del message["Message-ID"]
    message["Message-ID"] = message_id
    return message_id


def _step(
    conn: Connection,
    change: Callable[Concatenate[Connection, P], T],
    *args: P.args,
    **kwargs: P.kwargs,
) -> T:
    """Make one ledger change and commit it at once."""
    try:
        result = change(conn, *args, **kwargs)
    except BaseException:
        conn.rollback()
        raise
    conn.commit()
    return result


@contextmanager
def _ledger_connection(bind: Engine | Connection) -> Iterator[Connection]:
    if isinstance(bind, Engine):
        with bind.connect() as conn:
            yield conn
    else:
        yield bind

"""The one wrapper around SMTP: STARTTLS or implicit TLS, timeouts, and replies sorted
into transient (4xx, network) and permanent (5xx) failures."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import getaddresses, parseaddr
from pathlib import Path
from typing import Literal

from pydantic import SecretStr

from weekly_wrapped.config import Settings
from weekly_wrapped.delivery.errors import (
    DeliveryDeferred,
    DeliveryInDoubt,
    DeliveryRejected,
    MailerConfigError,
)
from weekly_wrapped.delivery.handover import Handover
from weekly_wrapped.delivery.ledger import DeliveryKey
from weekly_wrapped.errors import WrappedError

Security = Literal["starttls", "ssl", "none"]


class SmtpTransport:
    """Sends through one SMTP server, opening a fresh connection per message."""

    name = "smtp"

    def __init__(
        self,
        host: str,
        port: int,
        *,
        security: Security,
        username: str | None = None,
        password: SecretStr | None = None,
        timeout_s: float = 30.0,
        ca_file: Path | None = None,
    ) -> None:
        self.host, self.port, self.security = host, port, security
        self.username, self.password = username, password
        self.timeout_s, self.ca_file = timeout_s, ca_file

    @classmethod
    def from_settings(cls, settings: Settings) -> SmtpTransport:
        """The transport the WRAPPED_SMTP_* settings describe."""
        if not settings.smtp_host:
            raise MailerConfigError("WRAPPED_EMAIL=smtp but WRAPPED_SMTP_HOST is not set")
        if settings.smtp_username and settings.smtp_password is None:
            raise MailerConfigError("WRAPPED_SMTP_USERNAME is set but WRAPPED_SMTP_PASSWORD is not")
        security = settings.smtp_security
        if security == "auto":
            security = "ssl" if settings.smtp_port == 465 else "starttls"
        return cls(
            settings.smtp_host,
            settings.smtp_port,
            security=security,
            username=settings.smtp_username,
            password=settings.smtp_password,
            timeout_s=settings.smtp_timeout_s,
            ca_file=settings.smtp_ca_file,
        )

    @property
    def address(self) -> str:
        """The server, as reports show it: ``smtp://host:port``."""
        return f"smtp://{self.host}:{self.port}"

    def send(self, message: EmailMessage, key: DeliveryKey, handover: Handover) -> str:
        """Send `message`; `handover` runs after the envelope is accepted, before DATA."""
        sender, recipients = _envelope(message)
        handed_over = False

        def hand_over() -> None:
            nonlocal handed_over
            handover()
            handed_over = True

        try:
            with self._connect() as smtp:
                self._login(smtp)
                _send_envelope(smtp, sender, recipients)
                hand_over()
                _send_data(smtp, message)
        except WrappedError:
            raise
        except OSError as exc:  # smtplib and ssl errors are OSErrors; database errors pass
            raise self._failure(exc, handed_over) from exc
        return self.address

    def _connect(self) -> smtplib.SMTP:
        if self.security == "ssl":
            return smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout_s, context=self._tls()
            )
        smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout_s)
        if self.security == "starttls":
            try:
                smtp.ehlo()
                smtp.starttls(context=self._tls())
                smtp.ehlo()
            except BaseException:
                smtp.close()
                raise
        return smtp

    def _tls(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.ca_file)

    def _login(self, smtp: smtplib.SMTP) -> None:
        if self.username and self.password is not None:
            smtp.login(self.username, self.password.get_secret_value())

    def _failure(self, exc: Exception, handed_over: bool) -> WrappedError:
        where = self.address
        if isinstance(exc, smtplib.SMTPAuthenticationError):
            return MailerConfigError(f"{where} refused the login for {self.username!r}")
        if isinstance(exc, smtplib.SMTPNotSupportedError):
            return MailerConfigError(f"{where} does not offer STARTTLS: {exc}")
        if isinstance(exc, ssl.SSLError):
            return self._tls_failure(exc)
        if isinstance(exc, smtplib.SMTPRecipientsRefused):
            return _refused_recipients(exc, where)
        if isinstance(exc, smtplib.SMTPResponseException):
            return _reply_failure(exc.smtp_code, exc.smtp_error, where)
        if handed_over:
            return DeliveryInDoubt(f"the connection to {where} broke during DATA: {exc!r}")
        return DeliveryDeferred(f"could not reach {where}: {exc!r}")

    def _tls_failure(self, exc: ssl.SSLError) -> MailerConfigError:
        return MailerConfigError(
            f"TLS with {self.address} failed ({exc.reason or exc}); security is {self.security}",
            hint="Use port 465 with WRAPPED_SMTP_SECURITY=ssl or 587 with starttls, and check "
            "WRAPPED_SMTP_CA_FILE if the server's certificate is private.",
        )


def _envelope(message: EmailMessage) -> tuple[str, list[str]]:
    sender = parseaddr(str(message.get("From", "")))[1]
    fields = [str(v) for v in (*message.get_all("To", []), *message.get_all("Cc", []))]
    recipients = [address for _, address in getaddresses(fields) if address]
    if not sender or not recipients:
        raise DeliveryRejected("the message needs a From and at least one To address")
    return sender, recipients


def _send_envelope(smtp: smtplib.SMTP, sender: str, recipients: list[str]) -> None:
    smtp.ehlo_or_helo_if_needed()
    code, reply = smtp.mail(sender)
    if code != 250:
        raise smtplib.SMTPSenderRefused(code, reply, sender)
    refused = {}
    for address in recipients:
        code, reply = smtp.rcpt(address)
        if code not in (250, 251):
            refused[address] = (code, reply)
    if refused:
        raise smtplib.SMTPRecipientsRefused(refused)


def _send_data(smtp: smtplib.SMTP, message: EmailMessage) -> None:
    code, reply = smtp.data(message.as_bytes(policy=SMTP_POLICY))
    if code != 250:
        raise smtplib.SMTPDataError(code, reply)


def _refused_recipients(exc: smtplib.SMTPRecipientsRefused, where: str) -> WrappedError:
    replies = "; ".join(
        f"{address}: {code} {_text(reply)}" for address, (code, reply) in exc.recipients.items()
    )
    if all(400 <= code < 500 for code, _ in exc.recipients.values()):
        return DeliveryDeferred(f"{where} deferred the recipient ({replies})")
    return DeliveryRejected(f"{where} refused the recipient ({replies})")


def _reply_failure(code: int, reply: bytes | str, where: str) -> WrappedError:
    text = f"{where} replied {code} {_text(reply)}"
    if 400 <= code < 500:
        return DeliveryDeferred(text)
    return DeliveryRejected(text)


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply

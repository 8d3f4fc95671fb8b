"""Exactly-once delivery over a real SMTP server (aiosmtpd) and the outbox, on both warehouses."""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword
from sqlalchemy import Engine

from weekly_wrapped.config import Settings, load_settings
from weekly_wrapped.delivery import ledger
from weekly_wrapped.delivery.errors import MailerConfigError
from weekly_wrapped.delivery.handover import Handover
from weekly_wrapped.delivery.ledger import DeliveryKey
from weekly_wrapped.delivery.mailer import deliver
from weekly_wrapped.warehouse.users import add_user

WEEK = date(2026, 11, 16)


class Mailbox:
    """An aiosmtpd handler that keeps what it accepts and refuses on request."""

    def __init__(self) -> None:
        self.received: list[Envelope] = []
        self.data_replies: list[str] = []
        self.unknown: set[str] = set()

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Envelope, address: str, options: Any
    ) -> str:
        if address in self.unknown:
            return "550 5.1.1 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Envelope) -> str:
        if self.data_replies:
            return self.data_replies.pop(0)
        self.received.append(envelope)
        return "250 2.0.0 Queued"

    def messages(self) -> list[EmailMessage]:
        return [
            message_from_bytes(bytes(e.original_content or b""), policy=policy.default)  # type: ignore[misc]
            for e in self.received
        ]


def free_port() -> int:
    # Controller(port=0) fails its own start check, so reserve a port first.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class SmtpServer:
    def __init__(self, **kwargs: Any) -> None:
        self.mailbox = Mailbox()
        self.port = free_port()
        self.controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port, **kwargs)

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


def smtp_settings(tmp_path: Path, port: int, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": tmp_path,
        "email": "smtp",
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "smtp_security": "none",
        "smtp_timeout_s": 5,
        "email_backoff_s": 0.01,
        "smtp_from": "Weekly Wrapped <wrapped@example.org>",
    } | overrides
    return load_settings(**values)


def note(to: str = "ada@example.com") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Weekly Wrapped <wrapped@example.org>"
    message["To"] = to
    message["Subject"] = "Please reconnect Spotify"
    message.set_content("Your Spotify login expired.")
    return message


@pytest.fixture
def user(engine: Engine) -> int:
    with engine.begin() as conn:
        return add_user(conn, name="Ada", email="ada@example.com")


def record(engine: Engine, user_key: int, channel: str = "recap") -> ledger.DeliveryRecord:
    with engine.connect() as conn:
        found = ledger.read(conn, DeliveryKey(user_key, WEEK, channel))
    assert found is not None
    return found


def test_a_message_goes_out_once_per_user_week_and_channel(
    engine: Engine, user: int, smtp: SmtpServer, tmp_path: Path
) -> None:
    settings = smtp_settings(tmp_path, smtp.port)
    first = deliver(engine, settings, user, WEEK, "reconnect", note())
    again = deliver(engine, settings, user, WEEK, "reconnect", note())

    assert (first.result, first.status, first.attempts) == ("sent", "sent", 1)
    assert again.result == "skipped" and "already sent" in (again.detail or "")
    [received] = smtp.mailbox.messages()
    assert received["Subject"] == "Please reconnect Spotify"
    assert (
        received["Message-ID"] == first.message_id == record(engine, user, "reconnect").message_id
    )
    assert smtp.mailbox.received[0].rcpt_tos == ["ada@example.com"]


def test_resend_sends_again_with_a_new_message_id(
    engine: Engine, user: int, smtp: SmtpServer, tmp_path: Path
) -> None:
    settings = smtp_settings(tmp_path, smtp.port)
    first = deliver(engine, settings, user, WEEK, "recap", note())
    second = deliver(engine, settings, user, WEEK, "recap", note(), resend=True)

    assert second.result == "sent" and second.message_id != first.message_id
    assert [m["Message-ID"] for m in smtp.mailbox.messages()] == [
        first.message_id,
        second.message_id,
    ]


def test_a_refusing_server_gets_one_message_once_it_accepts(
    engine: Engine, user: int, tmp_path: Path
) -> None:
    server = SmtpServer()
    settings = smtp_settings(tmp_path, server.port)
    waits: list[float] = []

    def start_server_while_waiting(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 1:
            server.controller.start()  # attempt 1 found nothing listening
        else:
            assert record(engine, user).last_error is not None

    server.mailbox.data_replies = ["451 4.3.0 Try again later"]
    try:
        outcome = deliver(
            engine, settings, user, WEEK, "recap", note(), sleep=start_server_while_waiting
        )
    finally:
        server.controller.stop()

    assert (outcome.result, outcome.attempts) == ("sent", 3)
    assert len(server.mailbox.received) == 1
    assert waits == [0.01, 0.02]
    row = record(engine, user)
    assert (row.status, row.attempts) == ("sent", 3)
    assert "451" in (row.last_error or ""), "the last temporary failure stays on record"


def test_temporary_failures_give_up_after_the_attempts_and_retry_next_run(
    engine: Engine, user: int, smtp: SmtpServer, tmp_path: Path
) -> None:
    settings = smtp_settings(tmp_path, smtp.port, email_attempts=2)
    smtp.mailbox.data_replies = ["421 4.7.0 Busy"] * 2

    failed = deliver(engine, settings, user, WEEK, "recap", note())
    later = deliver(engine, settings, user, WEEK, "recap", note())

    assert (failed.result, failed.status, failed.attempts) == ("failed", "deferred", 2)
    assert "421" in (failed.detail or "")
    assert (later.result, later.attempts) == ("sent", 3)
    assert len(smtp.mailbox.received) == 1


def test_a_bad_address_is_recorded_and_not_retried(
    engine: Engine, user: int, smtp: SmtpServer, tmp_path: Path
) -> None:
    settings = smtp_settings(tmp_path, smtp.port)
    smtp.mailbox.unknown.add("nobody@example.com")
    waits: list[float] = []

    outcome = deliver(
        engine, settings, user, WEEK, "recap", note("nobody@example.com"), sleep=waits.append
    )
    again = deliver(engine, settings, user, WEEK, "recap", note("nobody@example.com"))

    assert (outcome.result, outcome.status, outcome.attempts) == ("failed", "failed", 1)
    assert "550" in (outcome.detail or "") and waits == []
    assert again.result == "skipped" and "refused earlier" in (again.detail or "")
    assert smtp.mailbox.received == []


def test_a_5xx_reply_to_the_message_is_permanent(
    engine: Engine, user: int, smtp: SmtpServer, tmp_path: Path
) -> None:
    smtp.mailbox.data_replies = ["554 5.6.0 Message rejected"]
    outcome = deliver(engine, smtp_settings(tmp_path, smtp.port), user, WEEK, "recap", note())
    assert (outcome.status, outcome.attempts) == ("failed", 1)
    assert "554" in (outcome.detail or "")


def test_a_wrong_password_stops_with_a_config_error_and_leaves_the_email_to_retry(
    engine: Engine, user: int, tmp_path: Path
) -> None:
    def authenticate(
        server: Any, session: Any, envelope: Any, mechanism: str, auth: Any
    ) -> AuthResult:
        ok = isinstance(auth, LoginPassword) and auth.password == b"app-password"
        return AuthResult(success=ok, handled=False)

    with SmtpServer(authenticator=authenticate, auth_require_tls=False) as server:
        wrong = smtp_settings(tmp_path, server.port, smtp_username="ada", smtp_password="nope")  # noqa: S106
        with pytest.raises(MailerConfigError, match="refused the login for 'ada'") as caught:
            deliver(engine, wrong, user, WEEK, "recap", note())
        right = smtp_settings(
            tmp_path,
            server.port,
            smtp_username="ada",
            smtp_password="app-password",  # noqa: S106
        )
        outcome = deliver(engine, right, user, WEEK, "recap", note())

    assert "nope" not in str(caught.value)
    assert outcome.result == "sent" and len(server.mailbox.received) == 1


def self_signed_tls(tmp_path: Path) -> tuple[ssl.SSLContext, Path]:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context, cert


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_tls_modes_deliver_and_verify_the_certificate(
    engine: Engine, user: int, tmp_path: Path, security: str
) -> None:
    context, cert = self_signed_tls(tmp_path)
    tls = {"tls_context": context} if security == "starttls" else {"ssl_context": context}
    with SmtpServer(**tls) as server:
        untrusted = smtp_settings(tmp_path, server.port, smtp_security=security)
        with pytest.raises(MailerConfigError, match="TLS with smtp://127.0.0.1"):
            deliver(engine, untrusted, user, WEEK, "recap", note())
        trusted = smtp_settings(tmp_path, server.port, smtp_security=security, smtp_ca_file=cert)
        outcome = deliver(engine, trusted, user, WEEK, "recap", note())
    assert outcome.result == "sent" and len(server.mailbox.received) == 1


KILLED_AFTER_SEND = """
import os, signal, sys
from datetime import date
from email.message import EmailMessage
from weekly_wrapped.config import load_settings
from weekly_wrapped.delivery import ledger, mailer
from weekly_wrapped.warehouse import db

def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)  # the server has the message; the record is not written

ledger.record_sent = die
url, port, data_dir = sys.argv[1], int(sys.argv[2]), sys.argv[3]
settings = load_settings(data_dir=data_dir, email="smtp", smtp_host="127.0.0.1", smtp_port=port,
                         smtp_security="none", smtp_from="wrapped@example.org")
message = EmailMessage()
message["From"], message["To"], message["Subject"] = "wrapped@example.org", "ada@example.com", "Hi"
message.set_content("Your week in music")
mailer.deliver(db.connect(url), settings, int(sys.argv[4]), date(2026, 11, 16), "recap", message)
"""


def test_a_run_killed_after_the_send_is_not_sent_twice(
    engine: Engine, user: int, smtp: SmtpServer, tmp_path: Path
) -> None:
    url = engine.url.render_as_string(hide_password=False)
    child = subprocess.run(
        [sys.executable, "-c", KILLED_AFTER_SEND, url, str(smtp.port), str(tmp_path), str(user)],
        capture_output=True, text=True, env=os.environ | {"PYTHONPATH": "src"}, timeout=60,
    )  # fmt: skip
    assert child.returncode == -signal.SIGKILL, child.stderr
    assert len(smtp.mailbox.received) == 1
    assert record(engine, user).status == "sending"

    settings = smtp_settings(tmp_path, smtp.port)
    rerun = deliver(engine, settings, user, WEEK, "recap", note())
    assert rerun.result == "skipped" and "may have arrived" in (rerun.detail or "")
    assert len(smtp.mailbox.received) == 1

    forced = deliver(engine, settings, user, WEEK, "recap", note(), resend=True)
    assert forced.result == "sent" and len(smtp.mailbox.received) == 2


def test_a_run_that_died_before_handing_over_is_taken_over(
    engine: Engine, user: int, smtp: SmtpServer, tmp_path: Path
) -> None:
    key = DeliveryKey(user, WEEK, "recap")
    with engine.begin() as conn:
        assert ledger.claim(conn, key, "<stale@example.org>", False)

    outcome = deliver(engine, smtp_settings(tmp_path, smtp.port), user, WEEK, "recap", note())

    assert outcome.result == "sent" and len(smtp.mailbox.received) == 1
    with engine.begin() as conn:
        assert not ledger.hand_over(conn, key, "<stale@example.org>"), "the old run cannot send"


def test_the_outbox_writes_the_email_once(engine: Engine, user: int, tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    first = deliver(engine, settings, user, WEEK, "recap", note())
    path = tmp_path / "outbox" / str(user) / "2026-W47.eml"
    written = path.read_bytes()
    again = deliver(engine, settings, user, WEEK, "recap", note())
    other = deliver(engine, settings, user, WEEK, "reconnect", note())

    assert first.detail == str(path) and again.result == "skipped"
    assert path.read_bytes() == written
    parsed = message_from_bytes(written, policy=policy.default)
    assert parsed["Message-ID"] == first.message_id
    assert other.detail == str(path.with_name("2026-W47-reconnect.eml"))
    assert sorted(p.name for p in path.parent.iterdir()) == [
        "2026-W47-reconnect.eml",
        "2026-W47.eml",
    ]


def test_an_unwritable_outbox_stops_with_a_hint(engine: Engine, user: int, tmp_path: Path) -> None:
    blocker = tmp_path / "outbox"
    blocker.write_text("a file where the outbox folder should be")
    settings = load_settings(data_dir=tmp_path)
    with pytest.raises(MailerConfigError, match="cannot create the outbox folder") as caught:
        deliver(engine, settings, user, WEEK, "recap", note())
    assert "WRAPPED_OUTBOX_DIR" in (caught.value.hint or "")
    assert record(engine, user).status == "deferred", "it goes out on a later run"


def test_the_outbox_is_private_to_its_owner(engine: Engine, user: int, tmp_path: Path) -> None:
    outbox = tmp_path / "mail" / "outbox"
    message = note()
    message.add_alternative("<p>Your Spotify login expired.</p>", subtype="html")
    deliver(
        engine, load_settings(data_dir=tmp_path, outbox_dir=outbox), user, WEEK, "recap", message
    )

    def mode(path: Path) -> str:
        return oct(path.stat().st_mode & 0o777)

    eml = outbox / str(user) / "2026-W47.eml"
    assert [mode(outbox), mode(eml.parent)] == ["0o700", "0o700"]
    assert [mode(eml), mode(eml.with_suffix(".html"))] == ["0o600", "0o600"]


class Surprising:
    """A transport whose library raises something nobody planned for."""

    name = "surprising"

    def __init__(self, after_handover: bool) -> None:
        self.after_handover = after_handover

    def send(self, message: EmailMessage, key: DeliveryKey, handover: Handover) -> str:
        if self.after_handover:
            handover()
        raise RuntimeError("the library surprised us")


@pytest.mark.parametrize(
    ("after_handover", "status", "next_run"),
    [(False, "deferred", "sent"), (True, "sending", "skipped")],
)
def test_a_surprise_is_recorded_and_never_sends_twice(
    engine: Engine,
    user: int,
    tmp_path: Path,
    after_handover: bool,
    status: str,
    next_run: str,
) -> None:
    settings = load_settings(data_dir=tmp_path)
    transport = Surprising(after_handover)
    outcome = deliver(engine, settings, user, WEEK, "recap", note(), transport=transport)

    assert (outcome.result, outcome.status) == ("failed", status)
    assert outcome.detail == "unexpected RuntimeError: the library surprised us"
    kept = record(engine, user)
    assert (kept.attempts, kept.last_error) == (1, outcome.detail)
    assert deliver(engine, settings, user, WEEK, "recap", note()).result == next_run

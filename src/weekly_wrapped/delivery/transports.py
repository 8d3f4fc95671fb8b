"""Where a finished email goes: the outbox folder or an SMTP server (`WRAPPED_EMAIL`).

Each transport keeps the `handover` protocol (see `delivery.handover`).
"""

from __future__ import annotations

import base64
import os
import re
from email.message import EmailMessage
from pathlib import Path

from weekly_wrapped.config import Settings
from weekly_wrapped.delivery.errors import DeliveryDeferred, MailerConfigError
from weekly_wrapped.delivery.handover import Handover, Transport
from weekly_wrapped.delivery.ledger import DeliveryKey
from weekly_wrapped.weeks import week_label

_CID = re.compile(r"cid:([^\"'\s)>]+)")
_PRIVATE_DIR, _PRIVATE_FILE = 0o700, 0o600


def open_transport(settings: Settings) -> Transport:
    """The transport `WRAPPED_EMAIL` names."""
    if settings.email == "smtp":
        from weekly_wrapped.delivery.smtp import SmtpTransport

        return SmtpTransport.from_settings(settings)
    assert settings.outbox_dir is not None  # noqa: S101 - set by Settings
    return OutboxTransport(settings.outbox_dir)


class OutboxTransport:
    """Writes ``<outbox>/<user>/<week>.eml`` and a viewable ``.html`` beside it.

    Emails hold names, addresses and listening: the folders it creates are private
    to their owner (0700), and so is every file it writes (0600).
    """

    name = "outbox"

    def __init__(self, root: Path) -> None:
        self.root = root

    def path_for(self, key: DeliveryKey) -> Path:
        """The `.eml` file of a delivery; channels other than the recap get a suffix."""
        stem = week_label(key.week_start)
        if key.channel != "recap":
            stem = f"{stem}-{key.channel}"
        return self.root / str(key.user_key) / f"{stem}.eml"

    def send(self, message: EmailMessage, key: DeliveryKey, handover: Handover) -> str:
        """Write the `.eml` (and `.html` when there is an HTML part) atomically."""
        path = self.path_for(key)
        try:
            self.root.mkdir(mode=_PRIVATE_DIR, parents=True, exist_ok=True)
            path.parent.mkdir(mode=_PRIVATE_DIR, exist_ok=True)
        except OSError as exc:
            raise MailerConfigError(
                f"cannot create the outbox folder {path.parent}: {exc.strerror or exc}",
                hint="Point WRAPPED_OUTBOX_DIR (or WRAPPED_DATA_DIR) at a writable folder.",
            ) from exc
        html = viewable_html(message)
        handover()
        try:
            if html is not None:
                _write_atomically(path.with_suffix(".html"), html.encode("utf-8"))
            _write_atomically(path, message.as_bytes())
        except OSError as exc:
            # Written aside and renamed: a failed write left no .eml, so a retry is safe.
            raise DeliveryDeferred(f"could not write {path}: {exc.strerror or exc}") from exc
        return str(path)


def viewable_html(message: EmailMessage) -> str | None:
    """The HTML body with its inline `cid:` images turned into data URIs, to open in a browser."""
    body = message.get_body(preferencelist=("html",))
    if body is None:
        return None
    html = body.get_content()
    images = {
        part["Content-ID"].strip("<>"): part
        for part in message.walk()
        if part["Content-ID"] and part.get_content_maintype() == "image"
    }

    def inline(match: re.Match[str]) -> str:
        part = images.get(match[1])
        if part is None:
            return match[0]
        payload = base64.b64encode(part.get_content()).decode("ascii")
        return f"data:{part.get_content_type()};base64,{payload}"

    return _CID.sub(inline, str(html))


def _write_atomically(path: Path, content: bytes) -> None:
    # A reader (or a crash) never sees half a file: write aside, then rename over.
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, _PRIVATE_FILE)
    with os.fdopen(descriptor, "wb") as file:
        file.write(content)
    os.replace(partial, path)

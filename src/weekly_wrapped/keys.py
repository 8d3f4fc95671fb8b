"""The one secret key: encrypts Spotify tokens at rest and signs unsubscribe links.

It is WRAPPED_SECRET_KEY when set (every host of one deployment must share it).
Otherwise a key is made on first use and kept in `<data dir>/secret.key`, readable
by its owner only, so the embedded mode needs no setup.
"""

from __future__ import annotations

import base64
import binascii
import os
from pathlib import Path

from cryptography.fernet import Fernet

from weekly_wrapped.config import Settings
from weekly_wrapped.errors import ConfigError
from weekly_wrapped.private_files import private_folder

KEY_FILE = "secret.key"
HOW_TO_MAKE_ONE = (
    'Make one with: python -c "from cryptography.fernet import Fernet; '
    'print(Fernet.generate_key().decode())"'
)


class InvalidSecretKey(ConfigError):
    """WRAPPED_SECRET_KEY (or the kept key file) is not a Fernet key."""

    hint = HOW_TO_MAKE_ONE


def secret_key(settings: Settings) -> bytes:
    """The key's bytes: WRAPPED_SECRET_KEY, or the one kept under the data directory."""
    if settings.secret_key is not None and settings.secret_key.get_secret_value().strip():
        key = settings.secret_key.get_secret_value().strip().encode("ascii", "replace")
        return _checked(key, "WRAPPED_SECRET_KEY")
    path = settings.data_dir / KEY_FILE
    return _checked(_kept_key(path), str(path))


def fernet(settings: Settings) -> Fernet:
    """The cipher for secrets at rest."""
    return Fernet(secret_key(settings))


def _checked(key: bytes, where: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(key)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 32:
        raise InvalidSecretKey(f"{where} is not a Fernet key (32 url-safe base64-encoded bytes)")
    return key


def _kept_key(path: Path) -> bytes:
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    private_folder(path.parent)
    key = Fernet.generate_key()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()  # another process made it first: use theirs
    with os.fdopen(fd, "wb") as file:
        file.write(key + b"\n")
    return key

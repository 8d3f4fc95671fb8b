"""The secret key and the signed links built from it (unsubscribe).

WRAPPED_SECRET_KEY is used when set. Otherwise a key is generated on first use and
kept in ``<data dir>/secret.key`` (readable by its owner only), so the embedded
setup needs no configuration and links stay valid across runs. Several machines
sharing one database must share one key: set WRAPPED_SECRET_KEY on each.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import urlencode

_UNSUBSCRIBE = b"unsubscribe:v1:"


def unsubscribe_token(key: bytes, user_key: int) -> str:
    """The signature that lets a link turn off user `user_key`'s weekly email."""
    digest = hmac.new(key, _UNSUBSCRIBE + str(user_key).encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:24]).decode("ascii")


def check_unsubscribe_token(key: bytes, user_key: int, token: str) -> bool:
    """True when `token` was made by `unsubscribe_token` for this user and key.

    Any other text, including one with non-ASCII characters, is simply not valid.
    """
    expected = unsubscribe_token(key, user_key).encode("ascii")
    return hmac.compare_digest(expected, token.encode("utf-8", "replace"))


def unsubscribe_url(public_url: str, key: bytes, user_key: int) -> str:
    """The one-click unsubscribe link: ``<public url>/unsubscribe?user=…&token=…``."""
    query = urlencode({"user": user_key, "token": unsubscribe_token(key, user_key)})
    return f"{public_url.rstrip('/')}/unsubscribe?{query}"

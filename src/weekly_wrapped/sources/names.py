"""Names as they enter from outside (the privacy export, the Spotify API): printable only.

C0 and C1 control characters in a track, artist, album or show name (escape codes
that clear a terminal, fake a link or colour text, a stray NUL) are dropped where
the name comes in; line breaks and tabs become spaces, as the song key already
reads them. A name with nothing left is treated as missing.
"""

from __future__ import annotations

import re
from typing import Any

_BREAKS = re.compile("[\t\n\x0b\x0c\r\x85]")
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f]")


def visible_name(value: Any) -> str | None:
    """`value` without control characters; None if it is not text or nothing else is left."""
    if not isinstance(value, str):
        return None
    if not value.isprintable():  # rare, so the common case costs one C call
        value = _CONTROLS.sub("", _BREAKS.sub(" ", value))
    return value if value.strip() else None

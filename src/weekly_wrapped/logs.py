"""Logging, set up once per process: WRAPPED_LOG_LEVEL and WRAPPED_LOG_FORMAT (text or json).

Our own loggers (``weekly_wrapped.*``) log at WRAPPED_LOG_LEVEL; other libraries'
only from WARNING, unless the level is DEBUG. Everything goes to stderr, so a
command's report on stdout stays clean. ``json`` writes one object per line with
``time``, ``level``, ``logger`` and ``message``, then any extra fields, for a log
collector to read. Secrets stay masked: a `SecretStr` prints as ``**********``
wherever it appears.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from typing import Any, Literal

LogFormat = Literal["text", "json"]
TEXT_FORMAT = "%(levelname)s %(name)s: %(message)s"

_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}
"""Attributes every record has; anything else was passed as ``extra``."""


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, then the extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        import orjson  # only services that ask for JSON logs pay for it

        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry |= {k: v for k, v in vars(record).items() if k not in _STANDARD and k not in entry}
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


class _Handler(logging.Handler):
    """Writes to whatever `sys.stderr` is at the time; `setup_logging` installs one only."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
            sys.stderr.flush()
        except Exception:  # noqa: BLE001 - logging must never break the command
            self.handleError(record)


def setup_logging(level: str, log_format: LogFormat = "text") -> None:
    """Send log records to stderr: ours from `level`, other libraries' from WARNING (or DEBUG)."""
    handler = _Handler()
    handler.setFormatter(
        JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)
    )
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _Handler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    ours = logging.getLevelName(level)
    root.setLevel(logging.DEBUG if ours == logging.DEBUG else max(ours, logging.WARNING))
    logging.getLogger("weekly_wrapped").setLevel(ours)

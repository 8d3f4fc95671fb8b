"""The error tree: one root, a subclass per stage, each marked transient or terminal.

Long-running loops (the consumer, the poller, the mailer) decide whether to retry,
dead-letter or give up from `transient`, never from scattered ``except`` clauses;
calls to outside services retry through `weekly_wrapped.retry`, which reads
`transient` and `retry_after`. The CLI turns any `WrappedError` into one line plus
its `hint`.
"""

from __future__ import annotations


class WrappedError(Exception):
    """Root of every error Weekly Wrapped raises on purpose."""

    transient: bool = False
    hint: str | None = None
    retry_after: float | None = None
    """Seconds the service asked us to wait before trying again (a Retry-After), if it said."""

    def __init__(
        self, message: str, *, hint: str | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        if hint is not None:
            self.hint = hint
        if retry_after is not None:
            self.retry_after = retry_after


class TransientError(WrappedError):
    """Worth retrying later: a service was down, a lock was held, a rate limit hit."""

    transient = True


class TerminalError(WrappedError):
    """Retrying will not help: the input or the configuration is wrong."""


class ConfigError(TerminalError):
    """A setting is missing or invalid."""

    hint = "Check your WRAPPED_* environment variables or .env file (see .env.example)."


class InvalidEvent(TerminalError):
    """A message does not satisfy the PlayEvent contract."""


class UnknownUser(TerminalError):
    """No user has the given id."""

    hint = "List users with `wrapped users list`, or add one with `wrapped users add`."


class WarehouseError(TerminalError):
    """The warehouse is missing, outdated or refused a write."""

    hint = "Run `wrapped init` to create or upgrade the database."


class WarehouseUnavailable(TransientError):
    """The database could not be reached."""

    hint = "Is the database running, and is WRAPPED_DATABASE_URL right?"


class ImportFileError(TerminalError):
    """A privacy-export file could not be read."""

"""What can go wrong talking to Spotify, each marked transient (try later) or terminal."""

from __future__ import annotations

from datetime import datetime

from weekly_wrapped.errors import ConfigError, TerminalError, TransientError

LOGIN_HINT = "Connect the account again with `wrapped login --user {user}`."


class SpotifyNotConfigured(ConfigError):
    """A Spotify setting is missing or unusable."""

    hint = "Create an app at developer.spotify.com and set WRAPPED_SPOTIFY_CLIENT_ID (docs/spotify.md)."


class SpotifyUnavailable(TransientError):
    """Spotify did not answer usefully: a 5xx, a timeout or a broken answer, even after retries."""

    hint = "This is usually brief; the next poll tries again."


class RateLimited(TransientError):
    """Spotify asked us to wait (429): waited out when short, else raised saying until when."""

    def __init__(
        self, message: str, *, retry_at: datetime, retry_after: float | None = None
    ) -> None:
        super().__init__(message, retry_after=retry_after)
        self.retry_at = retry_at


class AccessTokenRejected(TransientError):
    """Spotify refused the access token (401): it expired early or was revoked."""


class ReauthNeeded(TerminalError):
    """Spotify no longer honours the user's grant (``invalid_grant``): they must log in again."""


class SpotifyRefused(TerminalError):
    """Spotify refused the request itself (4xx other than 401, 404 and 429)."""

    hint = (
        "In development mode Spotify refuses anyone not added under User Management "
        "in the app's dashboard (docs/spotify.md)."
    )


class NotFound(TerminalError):
    """Spotify has no such track, artist or album (any more)."""


class LoginFailed(TerminalError):
    """The authorization did not complete."""

    hint = "Run `wrapped login` again; see docs/spotify.md if it keeps failing."


class StateMismatch(LoginFailed):
    """The callback's `state` is not the one we sent: possibly a forged request, so refused."""


class TokenUnreadable(TerminalError):
    """A stored token cannot be decrypted: WRAPPED_SECRET_KEY changed since it was stored."""


class NotConnected(TerminalError):
    """The user has no Spotify connection to use."""

"""Weekly Wrapped: a self-hosted Spotify Wrapped, every week."""

__version__ = "0.1.0"

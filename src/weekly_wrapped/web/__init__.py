"""The web service: Spotify login, the dashboard, the JSON API, unsubscribe, health.

`create_app(settings)` builds the Flask app; `wrapped serve` runs it under waitress.
"""

from weekly_wrapped.web.app import create_app

__all__ = ["create_app"]

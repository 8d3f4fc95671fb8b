"""A fake Spotify (accounts service and Web API) for tests, benchmarks and manual runs."""

from tests.fakes.spotify.catalog import Catalog
from tests.fakes.spotify.server import FakeSpotify, ManualClock

__all__ = ["Catalog", "FakeSpotify", "ManualClock"]

"""Fixtures for tests against the fake Spotify: a module sets its own `clock`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.spotify import FakeSpotify, ManualClock


@pytest.fixture
def fake(clock: ManualClock) -> Iterator[FakeSpotify]:
    """A fake Spotify on a free local port, living on the module's `clock`."""
    with FakeSpotify(clock=clock) as spotify:
        yield spotify

"""The fake Spotify speaks the Web API as published: its answers validate against the reference."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from openapi_core import OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse
from openapi_core.exceptions import OpenAPIError

from tests.fakes.spotify import FakeSpotify, ManualClock
from tests.fakes.spotify.catalog import epoch_ms
from weekly_wrapped.config import load_settings
from weekly_wrapped.sources.spotify.client import SpotifyClient

REFERENCE = Path(__file__).resolve().parents[1] / "fixtures/spotify/web-api.openapi.yml"
NOW = datetime(2026, 11, 16, 12, 0, tzinfo=UTC)
# openapi-core cannot check OAuth 2 security schemes; the fake checks bearer tokens itself.
pytestmark = pytest.mark.filterwarnings("ignore:Unsupported scheme type:UserWarning")


@cache
def reference() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(REFERENCE.read_text())
    return loaded


def api_for(fake: FakeSpotify, dev_mode: bool) -> OpenAPI:
    return _api(dev_mode)


@cache
def _api(dev_mode: bool) -> OpenAPI:
    spec = copy.deepcopy(reference())
    # Any fake on this machine, whatever its port.
    spec["servers"] = [
        {"url": "http://127.0.0.1:{port}/v1", "variables": {"port": {"default": "80"}}}
    ]
    schemas = spec["components"]["schemas"]
    # The reference says in prose that these are null when there is nothing to point to.
    paging = schemas["CursorPagingObject"]["properties"]
    paging["next"]["nullable"] = True
    paging["cursors"] = schemas["CursorObject"] | {"nullable": True}
    schemas["PlayHistoryObject"]["properties"]["context"] = schemas["ContextObject"] | {
        "nullable": True
    }
    if dev_mode:
        # Development mode no longer gets popularity (February 2026; DESIGN §8).
        schemas["AlbumObject"]["required"].remove("popularity")
    return OpenAPI.from_dict(spec)


@pytest.fixture
def fake() -> Iterator[FakeSpotify]:
    with FakeSpotify(clock=ManualClock(NOW)) as spotify:
        listener = spotify.add_listener("ada", "Ada")
        for n, track in enumerate(spotify.catalog.track_list()[:60]):
            spotify.listen(listener.id, track.id, NOW - timedelta(minutes=3 * (60 - n)))
        yield spotify


def bearer(fake: FakeSpotify, scope: str = "user-read-recently-played") -> dict[str, str]:
    token = fake._issue("ada", scope, with_refresh=False)["access_token"]
    return {"Authorization": f"Bearer {token}"}


def calls(fake: FakeSpotify) -> list[str]:
    track = fake.catalog.track_list()[5]
    after = epoch_ms(NOW - timedelta(minutes=10))
    return [
        "/me",
        "/me/player/recently-played?limit=50",
        f"/me/player/recently-played?limit=50&after={after}",
        f"/me/player/recently-played?limit=50&after={epoch_ms(NOW)}",
        "/me/player/recently-played?limit=5&before=" + str(epoch_ms(NOW - timedelta(hours=1))),
        f"/search?q=track:%22{track.name}%22&type=track,artist,album&limit=10",
        f"/tracks/{track.id}",
        f"/artists/{track.artist_ids[0]}",
        f"/albums/{track.album_id}",
    ]


def validate(api: OpenAPI, response: requests.Response) -> None:
    sent = response.request.copy()
    # Spotify answers /v1/me/ as /v1/me; the reference knows only the latter.
    sent.url = str(sent.url).replace("/me/?", "/me?").removesuffix("/")
    api.validate_request(RequestsOpenAPIRequest(sent))
    api.validate_response(RequestsOpenAPIRequest(sent), RequestsOpenAPIResponse(response))


@pytest.mark.parametrize("dev_mode", [False, True], ids=["extended-quota", "development-mode"])
def test_every_answer_validates_against_the_published_reference(
    fake: FakeSpotify, dev_mode: bool
) -> None:
    fake.dev_mode = dev_mode
    api = api_for(fake, dev_mode)
    for path in calls(fake):
        response = requests.get(fake.api_url + path, headers=bearer(fake), timeout=5)
        assert response.status_code == 200, (path, response.text)
        validate(api, response)


def test_the_check_catches_an_answer_that_breaks_the_reference(fake: FakeSpotify) -> None:
    api = api_for(fake, dev_mode=True)
    fake.removed_fields = {"release_date"}
    album = fake.catalog.track_list()[0].album_id
    response = requests.get(fake.api_url + f"/albums/{album}", headers=bearer(fake), timeout=5)
    with pytest.raises(OpenAPIError):
        validate(api, response)


def test_errors_validate_too(fake: FakeSpotify) -> None:
    api = api_for(fake, dev_mode=True)
    expired = requests.get(
        fake.api_url + "/me", headers={"Authorization": "Bearer nope"}, timeout=5
    )
    fake.inject("/v1/me", status=429, retry_after=7200)
    limited = requests.get(fake.api_url + "/me", headers=bearer(fake), timeout=5)
    assert (expired.status_code, limited.status_code) == (401, 429)
    assert limited.headers["Retry-After"] == "7200"
    for response in (expired, limited):
        validate(api, response)


def test_what_our_client_sends_and_gets_validates(fake: FakeSpotify) -> None:
    api = api_for(fake, dev_mode=True)
    settings = load_settings(spotify_api_url=fake.api_url, spotify_accounts_url=fake.base_url)
    client = SpotifyClient(settings)
    seen: list[requests.Response] = []
    client._session().hooks["response"].append(lambda r, *a, **k: seen.append(r))
    token = bearer(fake)["Authorization"][7:]
    track = fake.catalog.track_list()[0]
    client.me(token)
    client.recently_played(token, epoch_ms(NOW - timedelta(hours=1)))
    client.search(token, f'track:"{track.name}"', "track")
    client.track(token, track.id)
    client.artist(token, track.artist_ids[0])
    client.album(token, track.album_id)
    assert len(seen) == 6
    for response in seen:
        validate(api, response)


def test_recently_played_keeps_only_the_last_50_plays(fake: FakeSpotify) -> None:
    page = requests.get(
        fake.api_url + "/me/player/recently-played?limit=50", headers=bearer(fake), timeout=5
    ).json()
    plays = sorted(fake.listeners["ada"].plays, key=lambda p: p.played_at)
    assert len(page["items"]) == 50
    assert page["items"][-1]["track"]["id"] == plays[10].track_id, "the 10 oldest fell out"
    assert page["cursors"]["after"] == str(epoch_ms(plays[-1].played_at))


def test_recently_played_after_a_cursor_returns_only_newer_plays(fake: FakeSpotify) -> None:
    plays = fake.listeners["ada"].plays
    after = epoch_ms(plays[-4].played_at)
    page = requests.get(
        fake.api_url + f"/me/player/recently-played?limit=50&after={after}",
        headers=bearer(fake),
        timeout=5,
    ).json()
    assert [i["track"]["id"] for i in page["items"]] == [p.track_id for p in reversed(plays[-3:])]


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/me/player/recently-played?limit=51", "Invalid limit"),
        ("/search?q=a&type=track&limit=11", "Invalid limit"),
    ],
)
def test_limits_are_enforced_as_in_development_mode(
    fake: FakeSpotify, path: str, message: str
) -> None:
    response = requests.get(fake.api_url + path, headers=bearer(fake), timeout=5)
    assert response.status_code == 400 and response.json()["error"]["message"] == message


def test_recently_played_needs_its_scope(fake: FakeSpotify) -> None:
    response = requests.get(
        fake.api_url + "/me/player/recently-played", headers=bearer(fake, scope=""), timeout=5
    )
    assert response.status_code == 403


def test_malformed_answers_and_removed_fields_on_request(fake: FakeSpotify) -> None:
    fake.inject("/v1/me", malformed=True)
    broken = requests.get(fake.api_url + "/me", headers=bearer(fake), timeout=5)
    with pytest.raises(ValueError):
        broken.json()
    fake.removed_fields = {"images", "release_date"}
    album = fake.catalog.track_list()[0].album_id
    body = requests.get(fake.api_url + f"/albums/{album}", headers=bearer(fake), timeout=5).json()
    assert "images" not in body and "release_date" not in body and body["id"] == album

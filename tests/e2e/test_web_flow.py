"""The web service in a real browser (Debian's Chromium, driven by Playwright) under waitress:
log in through the fake Spotify, answer the first-login questions, see the week's charts,
go back a week, upload an export and watch it import, unsubscribe through the email's link.

Screenshots are kept under `test-artifacts/web/` (ignored by git).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Route, expect
from sqlalchemy import Engine
from waitress.server import create_server

from tests.factories import extended_row, play
from tests.fakes.spotify import FakeSpotify
from tests.fakes.spotify.harness import free_port, spotify_settings
from tests.web.conftest import NOW
from weekly_wrapped.config import Settings
from weekly_wrapped.delivery.service import send_recap
from weekly_wrapped.processing.embedded import EmbeddedProcessor
from weekly_wrapped.warehouse.users import add_user, get_user
from weekly_wrapped.web import create_app
from weekly_wrapped.weeks import parse_week

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "web"
ARTISTS = ["Nova Lane", "The Quiet Harbour", "Marlow & Finch", "Sable Youth", "Oren Vale",
           "Ivy Static", "Low Tide Choir"]  # fmt: skip
pytestmark = pytest.mark.parametrize("backend", ["sqlite"])


@pytest.fixture
def site(engine: Engine, tmp_path: Path) -> Iterator[tuple[str, Settings, FakeSpotify]]:
    """The app under waitress on a loopback port, aimed at the fake Spotify."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with FakeSpotify() as fake:
        fake.redirect_uris.add(f"{base}/auth/callback")
        settings = spotify_settings(
            fake, engine, tmp_path, spotify_redirect_uri=f"{base}/auth/callback", public_url=base
        )
        server = create_server(create_app(settings, engine=engine, clock=lambda: NOW),
                               host="127.0.0.1", port=port, threads=4)  # fmt: skip
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        try:
            yield base, settings, fake
        finally:
            server.close()


def listening(engine: Engine, user_key: int) -> None:
    """Three weeks of varied listening before NOW, so every chart has something to draw."""
    events = []
    for day in range(21):
        for n in range(3 + (day * 7) % 9):
            artist = ARTISTS[(day + n * n) % len(ARTISTS)]
            at = NOW - timedelta(days=day, hours=(n * 5 + day) % 14 + 1, minutes=n * 7)
            events.append(play(user_key, at, artist=artist, title=f"{artist.split()[-1]} No. {n % 4 + 1}",
                               album=f"{artist} LP", n=n))  # fmt: skip
    assert EmbeddedProcessor(engine).process(events).quarantined == 0


def export_file(folder: Path, rows: int) -> Path:
    path = folder / "Streaming_History_Audio_2025.json"
    start = NOW - timedelta(days=400)
    data = [extended_row(f"{start + timedelta(minutes=7 * i):%Y-%m-%dT%H:%M:%SZ}",
                         artist=ARTISTS[i % 5], title=f"Imported {i % 40}") for i in range(rows)]  # fmt: skip
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def offline(route: Route) -> None:
    """Only this machine: album art and anything else on the internet is refused."""
    host = route.request.url.split("/")[2]
    if host.startswith("127.0.0.1"):
        route.continue_()
    else:
        route.abort()


def shot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def test_log_in_see_the_week_go_back_import_and_unsubscribe(
    browser: Browser, site: tuple[str, Settings, FakeSpotify], engine: Engine, tmp_path: Path
) -> None:
    base, settings, fake = site
    fake.add_listener("ada", "Ada")
    fake.consent_as("ada")
    with engine.begin() as conn:
        ada = add_user(conn, name="Ada", spotify_user_id="ada")
    listening(engine, ada)
    context = browser.new_context(viewport={"width": 1200, "height": 900},
                                  timezone_id="Europe/Berlin", color_scheme="dark")  # fmt: skip
    page = context.new_page()
    page.route("**/*", offline)

    page.goto(f"{base}/")
    page.get_by_role("button", name="Log in with Spotify").click()
    expect(page).to_have_url(f"{base}/welcome")
    expect(page.get_by_label("Your timezone")).to_have_value("Europe/Berlin")  # from the browser
    page.get_by_label("Email for the weekly recap").fill("ada@example.org")
    page.get_by_label("Email me my recap every Monday morning").check()
    page.get_by_role("button", name="Show my week").click()

    expect(page).to_have_url(f"{base}/weeks/2026-W48")
    for chart in ("daily", "heatmap", "trend"):
        expect(page.locator(f"svg[data-chart={chart}] rect").first).to_be_visible()
    assert page.locator("svg[data-chart=daily] rect.bar[height]").count() == 7
    shot(page, "dashboard-dark")
    page.emulate_media(color_scheme="light")
    dashboard = shot(page, "dashboard")
    assert dashboard.stat().st_size > 20_000

    page.locator("#previous-week").click()
    expect(page).to_have_url(f"{base}/weeks/2026-W47")
    expect(page.locator("svg[data-chart=heatmap] rect.level4").first).to_be_visible()
    shot(page, "past-week")

    page.get_by_role("link", name="Import").click()
    page.get_by_label("Export file (.zip or .json)").set_input_files(
        str(export_file(tmp_path, 20_000))
    )
    page.get_by_role("button", name="Upload and import").click()
    expect(page.locator("#import-bar")).to_be_visible()
    expect(page.locator("#import-text")).to_have_attribute("data-state", "done", timeout=120_000)
    expect(page.locator("#import-text")).to_contain_text("20,000 new plays")
    assert page.locator("#import-bar").get_attribute("value") == "100"
    shot(page, "import-done")

    send_recap(engine, settings, ada, parse_week("2026-W47"))
    assert settings.outbox_dir is not None
    [eml] = (settings.outbox_dir / str(ada)).glob("*.eml")
    link = str(message_from_bytes(eml.read_bytes(), policy=policy.default)["List-Unsubscribe"])
    reader = browser.new_context().new_page()  # the email is opened anywhere, logged in or not
    reader.goto(link.strip("<>"))
    reader.get_by_role("button", name="Unsubscribe").click()
    expect(reader.locator("#unsubscribed")).to_be_visible()
    shot(reader, "unsubscribed")
    with engine.connect() as conn:
        assert get_user(conn, ada).weekly_email is False
    context.close()

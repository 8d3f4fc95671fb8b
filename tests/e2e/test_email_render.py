"""The recap email in a real browser (Debian's headless Chromium, driven by Playwright)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Browser, Page, Route

from tests.unit.test_email_message import EVIL, compose
from weekly_wrapped.config import Settings, load_settings
from weekly_wrapped.delivery.transports import viewable_html


@pytest.fixture
def email_file(tmp_path: Path) -> Path:
    settings: Settings = load_settings(data_dir=tmp_path)
    html = viewable_html(compose(settings))
    assert html is not None
    path = tmp_path / "recap.html"
    path.write_text(html, encoding="utf-8")
    return path


def offline(route: Route) -> None:
    """Let the file load; everything else (album art on the internet) is refused."""
    if route.request.url.startswith("file://"):
        route.continue_()
    else:
        route.abort()


def open_email(browser: Browser, path: Path, width: int) -> Page:
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.route("**/*", offline)
    page.goto(path.as_uri(), wait_until="load")
    return page


def test_the_email_renders_with_its_charts_at_600_px(
    browser: Browser, email_file: Path, tmp_path: Path
) -> None:
    page = open_email(browser, email_file, 640)
    shot = tmp_path / "recap-email.png"
    page.screenshot(path=str(shot), full_page=True)

    charts = page.eval_on_selector_all("img.chart", "imgs => imgs.map(i => i.naturalWidth)")
    assert charts == [552 * 2, 512 * 2, 552 * 2], "every chart loaded, at double density"
    container = page.eval_on_selector("table.container", "t => t.getBoundingClientRect().width")
    assert container == 600
    image = Image.open(io.BytesIO(shot.read_bytes()))
    assert image.width == 640 and image.height > 1500
    assert len(image.convert("RGB").getcolors(1 << 20) or []) > 50, "not a blank page"
    assert page.get_by_text(EVIL, exact=True).first.is_visible(), "names show as text"


def test_on_a_phone_nothing_overflows(browser: Browser, email_file: Path) -> None:
    page = open_email(browser, email_file, 375)
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    widths = page.eval_on_selector_all(
        "img.chart", "imgs => imgs.map(i => i.getBoundingClientRect().width)"
    )
    assert widths and max(widths) <= 375


def test_with_images_blocked_the_facts_are_still_there(browser: Browser, email_file: Path) -> None:
    page = browser.new_page(viewport={"width": 640, "height": 900})
    page.route("**/*", offline)
    page.set_content(email_file.read_text(encoding="utf-8").replace("data:image/png", "blocked:"))
    text = page.inner_text("body")
    for fact in ("Your busiest day was Sunday", "53.1 min", "This week", "263.4 min", "6 pm"):
        assert fact in text
    assert page.eval_on_selector_all("img.chart", "imgs => imgs.every(i => i.alt.length > 20)")

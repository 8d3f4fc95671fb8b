"""The recap email as a mail client receives it: parts, headers, escaping, signed links."""

from __future__ import annotations

import os
import re
from datetime import date
from email import message_from_bytes, policy
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from cryptography.fernet import Fernet

from weekly_wrapped.config import Settings, load_settings
from weekly_wrapped.delivery.errors import NotDeliverable
from weekly_wrapped.delivery.recap_email import compose_recap
from weekly_wrapped.delivery.signing import check_unsubscribe_token
from weekly_wrapped.delivery.view import subject
from weekly_wrapped.errors import ConfigError
from weekly_wrapped.insights.models import ListeningStats, Recommendation, Story
from weekly_wrapped.keys import secret_key

KEY = b"k" * 44
EVIL = '<script>alert("x")</script> & Co'
SPOTIFY_TRACK = "https://open.spotify.com/track/4uLU6hMCjMI75M1A2tKUQC"


def entry(name: str, artist: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"name": name, "artist": artist, "streams": 4, "minutes": 12.5} | extra


def sample_stats(**overrides: Any) -> ListeningStats:
    values: dict[str, Any] = {
        "user_id": 1, "timezone": "Europe/Berlin", "period_start": date(2026, 11, 16),
        "period_end": date(2026, 11, 23), "week": "2026-W47", "plays": 90,
        "minutes_listened": 263.4, "minutes_estimated_share": 0.0, "streams": 71, "skips": 19,
        "distinct_tracks": 40, "distinct_artists": 16, "distinct_albums": 20,
        "top_tracks": [
            entry(EVIL, "Otto", image_url="https://i.scdn.co/image/abc"),
            entry("Plain", "Kai", image_url="http://insecure.example/cover.jpg"),
        ],
        "top_artists": [entry("Kai"), entry(EVIL)], "top_albums": [], "top_genres": [],
        "daily_minutes": [27, 38.5, 38, 41.9, 25.9, 39, 53.1],
        "heatmap": [[1.0] * 24 for _ in range(7)], "peak_hour": 16, "busiest_day": 6,
        "sessions": {"count": 9, "longest_minutes": 80},
        "new_artists": [], "new_tracks": [], "rediscoveries": [], "on_repeat": None,
        "streak_days": 25, "vs_last_week": {"minutes": -45.5, "streams": -3, "distinct_artists": 1},
        "trend_4w": [278.5, 372, 308.9, 263.4], "top_artist_share": 0.25,
        "artist_diversity": 0.8, "late_night_share": 0.1, "weekend_share": 0.3,
        "podcasts": {"minutes": 0, "episodes": 0, "top_shows": []},
        "coverage": {"complete": True, "gaps": []},
    } | overrides  # fmt: skip
    return ListeningStats.model_validate(values)


def sample_story() -> Story:
    return Story(
        headline=f"{EVIL} all week",
        summary="You listened to 263.4 minutes of music.",
        mood="Bright and busy.",
        highlights=[f"New to you: {EVIL}."],
        recommendations=[{"artist": EVIL, "track": "Harbour Lights", "why": "Because."}],  # type: ignore[list-item]
        closing="Same time next week?",
    )


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(data_dir=tmp_path, public_url="https://wrapped.example.org/")


def compose(
    settings: Settings, story: Story | None = None, writer: str | None = None, **stats: Any
) -> EmailMessage:
    return compose_recap(
        settings, KEY, user_key=7, name=EVIL, email="ada@example.com",
        stats=sample_stats(**stats), story=story or sample_story(), writer=writer,
    )  # fmt: skip


class Page(HTMLParser):
    """What a browser builds from the HTML: its elements and its text."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.texts: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        if data.strip():
            self.texts.append(data.strip())

    def find(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for name, attrs in self.tags if name == tag]


def received(message: EmailMessage) -> EmailMessage:
    """The message as a client parses it from the wire."""
    return message_from_bytes(message.as_bytes(), policy=policy.default)  # type: ignore[return-value]


def test_the_email_has_a_text_part_and_an_html_part_with_its_charts(settings: Settings) -> None:
    message = received(compose(settings))
    assert message.get_content_type() == "multipart/alternative"
    text, related = message.get_payload()  # type: ignore[misc]
    assert text.get_content_type() == "text/plain"
    assert related.get_content_type() == "multipart/related"
    html, *images = related.get_payload()
    assert html.get_content_type() == "text/html"
    assert [i.get_content_type() for i in images] == ["image/png"] * 3
    assert [i.get_filename() for i in images] == ["daily.png", "heatmap.png", "trend.png"]
    body = html.get_content()
    for image in images:
        assert image.get_content().startswith(b"\x89PNG")
        assert f'src="cid:{image["Content-ID"].strip("<>")}"' in body


def test_names_are_escaped_in_the_html_and_plain_in_the_text(settings: Settings) -> None:
    message = received(compose(settings))
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    page = Page(html)
    assert page.find("script") == [], "a name never becomes markup"
    assert EVIL in page.texts and f"Hi {EVIL}," in page.texts
    assert f"Cover of {EVIL}" in [img["alt"] for img in page.find("img")]
    assert f"Hi {EVIL}," in text
    assert message["To"].addresses[0].display_name == EVIL
    assert message["To"].addresses[0].addr_spec == "ada@example.com"


def test_the_headers_carry_a_signed_one_click_unsubscribe(settings: Settings) -> None:
    message = received(compose(settings))
    link = re.fullmatch(r"<(.+)>", message["List-Unsubscribe"])
    assert link is not None
    url = urlparse(link[1])
    query = parse_qs(url.query)
    assert (url.scheme, url.netloc, url.path) == ("https", "wrapped.example.org", "/unsubscribe")
    assert query["user"] == ["7"]
    assert check_unsubscribe_token(KEY, 7, query["token"][0])
    assert not check_unsubscribe_token(KEY, 8, query["token"][0]), "a token opts out one user only"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert link[1].replace("&", "&amp;") in message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert message["Subject"] == "Your week in music · 16–22 Nov"


@pytest.mark.parametrize("public_url", [None, ""], ids=["unset", "empty"])
def test_without_a_public_url_unsubscribing_is_by_mail_to_the_sender(
    tmp_path: Path, public_url: str | None
) -> None:
    settings = load_settings(data_dir=tmp_path, public_url=public_url,
                             smtp_from="Weekly Wrapped <wrapped@example.org>")  # fmt: skip
    message = received(compose(settings))
    assert message["List-Unsubscribe"] == "<mailto:wrapped@example.org?subject=unsubscribe>"
    assert message["List-Unsubscribe-Post"] is None, "RFC 8058 one-click is for https only"
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert 'href="mailto:wrapped@example.org?subject=unsubscribe"' in html
    assert "/unsubscribe?" not in html + text, "no link to a web service that is not there"
    assert 'write to wrapped@example.org with the subject "unsubscribe"' in text


def test_without_a_public_url_or_a_from_address_there_is_no_unsubscribe_header(
    tmp_path: Path,
) -> None:
    message = received(compose(load_settings(data_dir=tmp_path, smtp_from="Weekly Wrapped")))
    assert message["List-Unsubscribe"] is None and message["List-Unsubscribe-Post"] is None
    assert "nsubscribe" not in message.get_body(("plain",)).get_content()  # type: ignore[union-attr]


def header_lines(raw: bytes) -> list[bytes]:
    """The header lines of a message exactly as written, folded lines kept apart."""
    head = re.split(rb"\r?\n\r?\n", raw, maxsplit=1)[0]
    return re.split(rb"\r?\n", head)


def test_the_unsubscribe_headers_are_written_in_their_wire_form(settings: Settings) -> None:
    message = compose(settings)
    for raw in (message.as_bytes(), message.as_bytes(policy=policy.SMTP)):
        lines = header_lines(raw)
        [unsubscribe] = [line for line in lines if line.startswith(b"List-Unsubscribe:")]
        assert re.fullmatch(
            rb"List-Unsubscribe: <https://wrapped\.example\.org/unsubscribe\?user=7&token=[\w-]+>",
            unsubscribe,
        ), unsubscribe
        assert lines[lines.index(unsubscribe) + 1][:1] not in (b" ", b"\t"), "never folded"
        assert b"List-Unsubscribe-Post: List-Unsubscribe=One-Click" in lines


def test_an_unsubscribe_link_that_cannot_stand_in_a_header_is_a_config_error(
    tmp_path: Path,
) -> None:
    settings = load_settings(data_dir=tmp_path, public_url="https://wrapped.exämple.org")
    with pytest.raises(ConfigError, match="cannot be written in an email header"):
        compose(settings)


def test_a_line_break_in_a_stored_name_never_makes_a_header(settings: Settings) -> None:
    message = compose_recap(
        settings, KEY, user_key=7, name="Eve\r\nBcc: x@y.z", email="eve@example.com",
        stats=sample_stats(), story=sample_story(),
    )  # fmt: skip
    raw = message.as_bytes(policy=policy.SMTP)
    assert not [line for line in header_lines(raw) if line.lower().startswith(b"bcc")]
    parsed = received(message)
    assert [str(a) for a in parsed["To"].addresses] == ['"Eve Bcc: x@y.z" <eve@example.com>']
    assert "Hi Eve Bcc: x@y.z," in parsed.get_body(("plain",)).get_content()  # type: ignore[union-attr]


def test_a_stored_address_with_control_characters_is_not_deliverable(settings: Settings) -> None:
    with pytest.raises(NotDeliverable, match="cannot address the email of user 7") as refused:
        compose_recap(
            settings, KEY, user_key=7, name="Eve", email="eve\x1b@example.com",
            stats=sample_stats(), story=sample_story(),
        )  # fmt: skip
    assert "wrapped users update --user 7 --email" in (refused.value.hint or "")


@pytest.mark.parametrize("token", ["é" * 32, "\udcff", "", "x" * 10_000, "🙂"])
def test_a_token_that_is_not_ascii_is_simply_invalid(token: str) -> None:
    assert check_unsubscribe_token(KEY, 7, token) is False


def test_subjects_name_the_days_of_the_week() -> None:
    assert subject(date(2026, 11, 16)) == "Your week in music · 16–22 Nov"
    assert subject(date(2026, 10, 26)) == "Your week in music · 26 Oct – 1 Nov"


def test_the_html_reads_without_images(settings: Settings) -> None:
    html = received(compose(settings)).get_body(("html",)).get_content()  # type: ignore[union-attr]
    images = Page(html).find("img")
    assert len(images) == 4 and all(img.get("alt") for img in images), images
    assert "Sunday" in html and "4 pm" in html, "the heatmap's finding is in words too"
    assert "53.1 min" in html and "263.4 min" in html, "chart values are written out"
    assert 'width="600"' in html and 'style="' in html, "600 px layout, CSS inlined"
    assert "http://insecure.example" not in html, "only https album art"
    assert "https://i.scdn.co/image/abc" in html


def test_a_quiet_week_has_no_charts(settings: Settings) -> None:
    message = received(compose(settings, plays=0, top_tracks=[], top_artists=[]))
    assert not [p for p in message.walk() if p.get_content_maintype() == "image"]
    assert "cid:" not in message.get_body(("html",)).get_content()  # type: ignore[union-attr]


def test_a_coverage_gap_is_said_not_hidden(settings: Settings) -> None:
    gap = {"start": "2026-11-18T10:00:00Z", "end": "2026-11-18T16:00:00Z", "reason": "poller down"}
    message = received(compose(settings, coverage={"complete": False, "gaps": [gap]}))
    for part in ("plain", "html"):
        body = message.get_body((part,)).get_content()  # type: ignore[union-attr]
        assert "Some plays may be missing" in body and "poller down" in body


def story_with_picks(*picks: Recommendation) -> Story:
    return sample_story().model_copy(update={"recommendations": list(picks)})


def pick(track: str, *, verified: bool = False, url: str | None = None) -> Recommendation:
    return Recommendation(
        artist="Kai", track=track, why="Because.", verified=verified, spotify_url=url
    )


def bodies(message: EmailMessage) -> tuple[str, str]:
    """The HTML and the plain text, as a client reads them."""
    received_message = received(message)
    html = received_message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    text = received_message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    return html, text


def test_only_a_verified_pick_links_to_spotify(settings: Settings) -> None:
    story = story_with_picks(
        pick("Verified", verified=True, url=SPOTIFY_TRACK),
        pick("Guessed", url="https://open.spotify.com/track/made-up"),
        pick("Plain"),
    )
    html, text = bodies(compose(settings, story, "offline"))
    links = [a for a in Page(html).find("a") if (a.get("href") or "").startswith("https://open.")]
    assert [a["href"] for a in links] == [SPOTIFY_TRACK, SPOTIFY_TRACK], "title and button"
    assert links[0]["title"] == "Open in Spotify"
    assert "Open in Spotify" in Page(html).texts
    assert f"Open in Spotify: {SPOTIFY_TRACK}" in text
    assert "made-up" not in html and "made-up" not in text, "an unverified link is left out"


@pytest.mark.parametrize(
    ("writer", "note"),
    [
        ("offline", "Picked from your own listening history; not checked against Spotify's catalogue."),
        ("gemini", "Suggested by AI, new to you; not checked against Spotify's catalogue."),
        (None, "Picked for you; not checked against Spotify's catalogue."),
    ],
)  # fmt: skip
def test_unverified_picks_say_where_they_come_from(
    settings: Settings, writer: str | None, note: str
) -> None:
    html, text = bodies(compose(settings, story_with_picks(pick("Plain"), pick("Other")), writer))
    assert note in Page(html).texts
    assert f"({note})" in text


def test_a_note_names_only_the_unlinked_picks_and_none_when_all_are_linked(
    settings: Settings,
) -> None:
    verified = pick("Verified", verified=True, url=SPOTIFY_TRACK)
    mixed, _ = bodies(compose(settings, story_with_picks(verified, pick("Plain")), "openai"))
    linked, linked_text = bodies(compose(settings, story_with_picks(verified), "openai"))
    assert (
        "Suggested by AI, new to you; those without a link were not checked against "
        "Spotify's catalogue." in Page(mixed).texts
    )
    assert "catalogue" not in linked and "catalogue" not in linked_text


def test_the_generated_key_is_private_and_kept(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    key = secret_key(settings)
    assert secret_key(load_settings(data_dir=tmp_path)) == key
    assert oct(os.stat(tmp_path / "secret.key").st_mode & 0o777) == "0o600"
    chosen = Fernet.generate_key()
    assert secret_key(load_settings(data_dir=tmp_path, secret_key=chosen.decode())) == chosen
    with pytest.raises(ConfigError, match="WRAPPED_SECRET_KEY is not a Fernet key"):
        secret_key(load_settings(data_dir=tmp_path, secret_key="short"))  # noqa: S106


def test_a_shared_first_place_shows_as_a_tie(settings: Settings) -> None:
    tied = [entry("Lady A", minutes=22.2), entry("Lady Antebellum", minutes=22.2), entry("Björk")]
    _, text = bodies(compose(settings, top_artists=tied))
    assert "=1. Lady A (22.2 min)" in text
    assert "=1. Lady Antebellum (22.2 min)" in text
    assert "3. Björk" in text

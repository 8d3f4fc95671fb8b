"""The weekly recap email from real listening, through a real SMTP server and the outbox."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import Engine, update

from tests.cli import run_wrapped, warehouse_env
from tests.fakes.openai_compat import FakeOpenAI
from tests.integration.test_email_delivery import SmtpServer, smtp_settings
from tests.unit.test_email_message import Page
from weekly_wrapped import pipeline
from weekly_wrapped.config import load_settings
from weekly_wrapped.delivery import ledger
from weekly_wrapped.delivery.errors import NotDeliverable
from weekly_wrapped.delivery.ledger import DeliveryKey
from weekly_wrapped.delivery.service import send_recap, send_week
from weekly_wrapped.insights.recap import load_recap
from weekly_wrapped.warehouse.schema import dim_user
from weekly_wrapped.warehouse.users import add_user
from weekly_wrapped.weeks import last_complete_week, week_label

NAME = 'Zoë <b>"Bold"</b> & Co'
TZ = "Europe/Berlin"
ONE_STORY_BUDGET = 3000
"""Tokens for one LLM story, not two: a request needs its prompt (about 1,350 tokens) plus
1,024 for the answer, and the first story spends about 1,550."""


@pytest.fixture
def listener(engine: Engine, tmp_path: Path) -> int:
    with engine.begin() as conn:
        user = add_user(conn, name=NAME, email="zoe@example.com", timezone=TZ)
    pipeline.generate(engine, load_settings(data_dir=tmp_path), user, weeks=5, seed=3)
    return user


def test_the_recap_arrives_over_smtp_complete(
    engine: Engine, listener: int, tmp_path: Path
) -> None:
    week = last_complete_week(TZ)
    with SmtpServer() as server:
        outcome = send_recap(engine, smtp_settings(tmp_path, server.port), listener, week)
        [message] = server.mailbox.messages()
        [envelope] = server.mailbox.received

    assert outcome.result == "sent" and message["Message-ID"] == outcome.message_id
    assert message["Subject"].startswith("Your week in music · ")
    assert message["To"].addresses[0].display_name == NAME
    # No WRAPPED_PUBLIC_URL, so no web service answers a link: unsubscribing is by mail.
    assert message["List-Unsubscribe"] == "<mailto:wrapped@example.org?subject=unsubscribe>"
    assert message["List-Unsubscribe-Post"] is None, "one-click needs an https endpoint"
    assert b"List-Unsubscribe: <mailto:wrapped@example.org?subject=unsubscribe>\r\n" in bytes(
        envelope.original_content or b""
    )
    assert 'write to wrapped@example.org with the subject "unsubscribe"' in body(message, "plain")
    assert [p.get_content_type() for p in message.walk()] == [
        "multipart/alternative", "text/plain", "multipart/related", "text/html",
        "image/png", "image/png", "image/png",
    ]  # fmt: skip
    html = body(message, "html")
    page = Page(html)
    assert page.find("b") == [], "the name's markup stays text"
    assert f"Hi {NAME}," in page.texts
    assert f"Hi {NAME}," in body(message, "plain")
    with engine.connect() as conn:
        recap = load_recap(conn, listener, week)
    assert recap is not None and recap.story.headline in page.texts


def list_unsubscribe(raw: bytes) -> str:
    """The List-Unsubscribe line as it went over the wire, up to its token."""
    head = raw.split(b"\r\n\r\n", 1)[0].replace(b"\r\n", b"\n")
    [line] = re.findall(rb"^List-Unsubscribe: (<[^\n]*>)\n(?![ \t])", head + b"\n", re.M)
    assert re.fullmatch(rb"<[\x21-\x7e]+token=[\w-]{32}>", line), "one plain <url>, unencoded"
    return line.decode("ascii").split("token=")[0] + "token="


def body(message: EmailMessage, kind: str) -> str:
    part = message.get_body((kind,))
    assert part is not None
    return str(part.get_content())


def test_send_week_skips_whoever_cannot_or_will_not_get_it(
    engine: Engine, listener: int, tmp_path: Path
) -> None:
    with engine.begin() as conn:
        no_mail = add_user(conn, name="No Mail")
        opted_out = add_user(conn, name="Opted Out", email="out@example.com", weekly_email=False)
    settings = load_settings(data_dir=tmp_path)
    week = last_complete_week(TZ)

    first = send_week(engine, settings, week)
    second = send_week(engine, settings, week)
    current = send_week(engine, settings, week + timedelta(weeks=1))

    assert [(r.name, r.result, r.detail) for r in first.results] == [
        (NAME, "sent", str(tmp_path / "outbox" / str(listener) / f"{week_label(week)}.eml")),
        ("No Mail", "skipped", "no email address on record; add one with "
         f"`wrapped users update --user {no_mail} --email ADDRESS`"),
        ("Opted Out", "skipped", "opted out of the weekly email; if they want it again: "
         f"`wrapped users update --user {opted_out} --weekly-email`"),
    ]  # fmt: skip
    assert (first.count("sent"), first.count("skipped"), first.count("failed")) == (1, 2, 0)
    assert second.count("sent") == 0 and "already sent" in (second.results[0].detail or "")
    assert "has not ended yet in Europe/Berlin" in (current.results[0].detail or "")


def test_one_users_recap_refuses_a_user_without_an_address(engine: Engine, tmp_path: Path) -> None:
    with engine.begin() as conn:
        user = add_user(conn, name="No Mail")
    with pytest.raises(NotDeliverable, match="no email address on record") as refused:
        send_recap(engine, load_settings(data_dir=tmp_path), user, last_complete_week("UTC"))
    assert (
        refused.value.hint == f"add one with `wrapped users update --user {user} --email ADDRESS`"
    )


def test_one_run_spends_one_token_budget_across_users(
    engine: Engine, listener: int, tmp_path: Path
) -> None:
    others = [add_listener(engine, tmp_path, name, seed) for name, seed in (("Bo", 4), ("Cy", 5))]
    week = last_complete_week(TZ)
    with FakeOpenAI() as fake:
        settings = load_settings(
            data_dir=tmp_path, writer="openai", openai_api_key=fake.api_key,
            openai_base_url=fake.url + "/v1", writer_token_budget=ONE_STORY_BUDGET,
        )  # fmt: skip
        report = send_week(engine, settings, week)
        asked = len(fake.requests)

    assert report.count("sent") == 3 and asked == 1, "the budget ran out after the first story"
    with engine.connect() as conn:
        recaps = [load_recap(conn, user, week) for user in (listener, *others)]
    assert [r.writer if r else None for r in recaps] == ["openai", "offline", "offline"]
    for later in recaps[1:]:
        assert later is not None and later.grounding is not None
        assert "token budget of this run is spent" in later.grounding["fallback"]["reason"]
    eml = tmp_path / "outbox" / str(listener) / f"{week_label(week)}.eml"
    first_email: EmailMessage = message_from_bytes(eml.read_bytes(), policy=policy.default)  # type: ignore[assignment]
    assert "Suggested by AI, new to you" in body(first_email, "plain"), "its picks are unverified"


def add_listener(engine: Engine, tmp_path: Path, name: str, seed: int) -> int:
    with engine.begin() as conn:
        user = add_user(conn, name=name, email=f"{name.lower()}@example.com", timezone=TZ)
    pipeline.generate(engine, load_settings(data_dir=tmp_path), user, weeks=5, seed=seed)
    return user


def test_wrapped_send_reports_sent_skipped_and_failed(
    engine: Engine, listener: int, tmp_path: Path
) -> None:
    with engine.begin() as conn:
        add_user(conn, name="No Mail")
    env = os.environ | {
        "WRAPPED_DATA_DIR": str(tmp_path),
        "WRAPPED_DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "WRAPPED_EMAIL": "outbox",
        "COLUMNS": "200",
    }
    week = week_label(last_complete_week(TZ))

    def wrapped(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "weekly_wrapped.cli", *args],
            env=env, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip

    first, again = wrapped("send", "--week", week), wrapped("send", "--week", week)

    assert first.returncode == 0, first.stderr
    assert "1 sent, 1 skipped, 0 failed." in first.stdout
    assert "no email address on record; add one with `wrapped users update --user" in first.stdout
    assert (tmp_path / "outbox" / str(listener) / f"{week}.html").exists()
    assert "0 sent, 2 skipped, 0 failed." in again.stdout


def test_one_bad_user_among_twenty_stops_nobody_else(engine: Engine, tmp_path: Path) -> None:
    with engine.begin() as conn:
        people = [
            add_user(conn, name=f"Listener {n}", email=f"l{n}@example.com") for n in range(20)
        ]
        # A timezone since dropped from the tz database, stored when it was still valid.
        conn.execute(
            update(dim_user)
            .where(dim_user.c.user_key == people[6])
            .values(timezone="US/Pacific-New")
        )
    for user in people[:2]:
        pipeline.generate(engine, load_settings(data_dir=tmp_path), user, weeks=1, seed=user)
    env = warehouse_env(engine, tmp_path) | {
        "WRAPPED_EMAIL": "outbox",
        "WRAPPED_PUBLIC_URL": "https://wrapped.example.org",
    }
    week = last_complete_week("UTC")
    outbox = tmp_path / "outbox"

    first = run_wrapped("send", "--week", week_label(week), env=env)
    written = {path: path.read_bytes() for path in outbox.rglob("*.eml")}
    again = run_wrapped("send", "--week", week_label(week), env=env)

    assert first.returncode == 1 and "Traceback" not in first.stdout + first.stderr
    assert "19 sent, 0 skipped, 1 failed." in first.stdout
    assert f"email failed for user {people[6]} (Listener 6)\n" in first.stderr
    assert sorted(int(path.parent.name) for path in written) == sorted(set(people) - {people[6]})
    with engine.connect() as conn:
        failed = ledger.read(conn, DeliveryKey(people[6], week, "recap"))
    assert failed is not None and failed.status == "deferred", "the next run tries it again"
    assert "US/Pacific-New" in (failed.last_error or "")

    for path, raw in written.items():
        assert list_unsubscribe(raw.replace(b"\n", b"\r\n")).endswith(
            f"user={path.parent.name}&token="
        )
    assert again.returncode == 1 and "0 sent, 19 skipped, 1 failed." in again.stdout
    assert {path: path.read_bytes() for path in outbox.rglob("*.eml")} == written, "none twice"

"""The scale path end to end: Spotify → poller → Kafka → Spark → PostgreSQL → recap → SMTP.

Every stage runs as an operator runs it, as a process of its own: `wrapped login`,
`wrapped poll` (WRAPPED_BUS=kafka), `wrapped process --engine spark` and `wrapped
send`. They talk to the test run's PostgreSQL and Kafka, a real SMTP server
(aiosmtpd), and the local fakes of the two internet services, Spotify and Gemini,
through the real OAuth flow, the real Spark job and the real google-genai SDK.

Three people listen for two weeks, with the mess of real listening (skips, songs
replayed at once, titles Spotify renames). The numbers in each email that arrives
are checked against numbers the test works out itself from the plays the fake
served (`tests.e2e.expected`), never from our stats code.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path

import pytest
import requests
from cryptography.fernet import Fernet
from sqlalchemy import Engine, select

from tests.cli import WRAPPED, run_wrapped
from tests.conftest import postgres_admin_url
from tests.e2e.expected import ExpectedRecap, expected_recap
from tests.e2e.listening import PEOPLE, Diary, Person, reveal, write_diary
from tests.fakes.gemini import FakeGemini
from tests.fakes.gemini import texts as gemini_texts
from tests.fakes.spotify import FakeSpotify
from tests.fakes.spotify.harness import free_port
from tests.integration.kafka.conftest import (  # noqa: F401 - fixtures
    Topics,
    env_of,
    kafka_bootstrap,
    kafka_bootstrap_address,
    topics,
)
from tests.integration.spark.conftest import spark_jars  # noqa: F401 - a fixture
from tests.integration.test_email_delivery import SmtpServer
from weekly_wrapped.warehouse import users
from weekly_wrapped.warehouse.schema import fact_play, recap

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.xdist_group("spark")]

MOST_NEW_PLAYS_PER_POLL = 45
"""Fewer than the 50 recently-played returns, so no poll misses a play."""
SECTIONS = ("DAY BY DAY (minutes)", "TOP TRACKS", "TOP ARTISTS", "FOUR WEEKS (minutes)",
            "THE MOOD", "TRY NEXT")  # fmt: skip


@pytest.fixture(scope="session", autouse=True)
def services_running() -> None:
    """This test proves the scale path, so a missing service fails it, never skips it."""
    missing = [
        how
        for found, how in (
            (postgres_admin_url(), "PostgreSQL (scripts/pg-start)"),
            (kafka_bootstrap_address(), "Kafka (scripts/kafka-start)"),
        )
        if found is None
    ]
    if missing:
        pytest.fail(f"the scale path needs {' and '.join(missing)}; `make test` starts both")


def last_week_for_everyone(now: datetime) -> date:
    """A Monday whose week, and the day after it, are over in every timezone."""
    two_days_ago = (now - timedelta(days=2)).date()
    return two_days_ago - timedelta(days=two_days_ago.weekday() + 7)


class Stopwatch:
    """Wall time per stage, printed at the end (and shown by pytest when a test fails)."""

    def __init__(self) -> None:
        self.started = self.last = time.monotonic()
        self.laps: list[str] = []

    def lap(self, stage: str) -> None:
        now = time.monotonic()
        self.laps.append(f"{stage} {now - self.last:.1f} s")
        self.last = now

    def report(self) -> str:
        return f"scale path: {time.monotonic() - self.started:.1f} s ({', '.join(self.laps)})"


@pytest.fixture
def stopwatch() -> Iterator[Stopwatch]:
    watch = Stopwatch()
    yield watch
    print(watch.report())


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


def run(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`wrapped ARGS`, which must succeed; its lines unwrapped, as the test reads them."""
    result = run_wrapped(*args, env={"COLUMNS": "200", **env}, timeout=timeout)
    assert result.returncode == 0, f"`wrapped {' '.join(args)}` failed:\n{result.stderr[-4000:]}"
    return result


def log_in(person: Person, user_key: int, fake: FakeSpotify, env: dict[str, str]) -> None:
    """`wrapped login --no-browser`, with the person opening the link it prints."""
    fake.add_listener(person.spotify_id, person.name)
    fake.consent_as(person.spotify_id)
    login = subprocess.Popen(
        [*WRAPPED, "login", "--user", str(user_key), "--no-browser", "--timeout", "60"],
        env={**os.environ, "COLUMNS": "200", **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert login.stdout is not None
    url = login.stdout.readline().strip()
    assert url.startswith(fake.base_url + "/authorize?"), url
    requests.get(url, timeout=30)  # Spotify redirects the browser to the loopback callback
    out, errors = login.communicate(timeout=60)
    assert login.returncode == 0, errors
    assert f"Connected Spotify account {person.spotify_id} to user {user_key}" in out


def environment(
    engine: Engine,
    made: Topics,
    data_dir: Path,
    spark_jars: str,  # noqa: F811
    fake: FakeSpotify,
    gemini: FakeGemini,
    smtp: SmtpServer,
) -> dict[str, str]:
    """Everything the `wrapped` processes read: one deployment's configuration."""
    kafka = env_of(made.settings(engine, data_dir))  # fresh topics and group
    redirect = f"http://127.0.0.1:{free_port()}/callback"
    fake.redirect_uris.add(redirect)
    return kafka | {
        "WRAPPED_SECRET_KEY": Fernet.generate_key().decode(),
        "WRAPPED_LOG_LEVEL": "INFO",
        "WRAPPED_SPOTIFY_CLIENT_ID": fake.client_id,
        "WRAPPED_SPOTIFY_API_URL": fake.api_url,
        "WRAPPED_SPOTIFY_ACCOUNTS_URL": fake.base_url,
        "WRAPPED_SPOTIFY_REDIRECT_URI": redirect,
        "WRAPPED_ENGINE": "spark",
        "WRAPPED_SPARK_JARS": spark_jars,
        "WRAPPED_SPARK_CHECKPOINT": str(data_dir / "checkpoint"),
        "WRAPPED_SPARK_TRIGGER_S": "0.5",
        "WRAPPED_SPARK_MAX_OFFSETS_PER_TRIGGER": "300",
        "WRAPPED_WRITER": "gemini",
        "WRAPPED_GEMINI_API_KEY": gemini.api_key,
        "WRAPPED_GEMINI_BASE_URL": gemini.url,
        "WRAPPED_WRITER_TIMEOUT_S": "20",
        "WRAPPED_EMAIL": "smtp",
        "WRAPPED_SMTP_HOST": "127.0.0.1",
        "WRAPPED_SMTP_PORT": str(smtp.port),
        "WRAPPED_SMTP_SECURITY": "none",
        "WRAPPED_SMTP_FROM": "Weekly Wrapped <wrapped@example.org>",
    }


def poll_as_they_listen(fake: FakeSpotify, diary: Diary, env: dict[str, str]) -> int:
    """Spotify learns of the plays a few hours at a time; `wrapped poll` follows each step."""
    fetched, after = 0, None
    for until in diary.rounds(MOST_NEW_PLAYS_PER_POLL):
        revealed = reveal(fake, diary, after, until)
        polled = run("poll", env=env).stdout
        summary = re.search(r"Polled 3 of 3 users: ([\d,]+) plays? fetched", polled)
        assert summary is not None, polled
        assert int(summary.group(1).replace(",", "")) == revealed, polled
        assert "coverage gap" not in polled, polled
        fetched, after = fetched + revealed, until
    return fetched


def text_sections(message: EmailMessage) -> dict[str, list[str]]:
    """The plain-text part's non-empty lines, under the heading they follow ("" first)."""
    part = message.get_body(("plain",))
    assert part is not None, "the email has a plain-text part"
    sections: dict[str, list[str]] = {"": []}
    heading = ""
    for line in (raw.strip() for raw in part.get_content().splitlines()):
        if line in SECTIONS:
            heading = line
            sections[heading] = []
        elif line:
            sections[heading].append(line)
    return sections


class Figures(HTMLParser):
    """The big numbers of the HTML part: the text of each figure's value and label."""

    def __init__(self) -> None:
        super().__init__()
        self.texts: dict[str, list[str]] = {"figure-value": [], "figure-label": []}
        self.inside: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = (dict(attrs).get("class") or "").split()
        self.inside = next((c for c in classes if c in self.texts), None)

    def handle_data(self, data: str) -> None:
        if self.inside is not None:
            self.texts[self.inside].append(data.strip())
            self.inside = None

    @classmethod
    def of(cls, message: EmailMessage) -> list[str]:
        part = message.get_body(("html",))
        assert part is not None, "the email has an HTML part"
        parser = cls()
        parser.feed(str(part.get_content()))
        return [f"{v} {label}" for v, label in zip(*parser.texts.values(), strict=True)]


def check_email(message: EmailMessage, expected: ExpectedRecap, person: Person) -> None:
    """The email's numbers, in its plain text and its HTML, are the expected ones."""
    sections = text_sections(message)
    opening = sections[""]
    assert f"Hi {person.name}," in opening
    for figure in expected.figures:
        assert figure in opening, (figure, opening)
    assert [line for line in opening if line.endswith("than last week)")] == expected.change
    assert sections["DAY BY DAY (minutes)"] == expected.day_by_day
    assert sections["TOP TRACKS"] == expected.top_tracks
    assert sections["TOP ARTISTS"] == expected.top_artists
    assert sections["FOUR WEEKS (minutes)"] == expected.four_weeks
    assert Figures.of(message) == expected.figures

    # The story is the fake Gemini's, written from our stats: its numbers agree too.
    story = "\n".join(opening)
    assert f"{expected.top_artist} set the tone" in story
    assert f"You gave music {expected.minutes} minutes this week" in story
    assert f"over {expected.streams:,} streams" in story
    assert "Same time next week?" in sections["TRY NEXT"]


def test_spotify_plays_reach_the_inbox_through_kafka_spark_and_postgresql(
    database_factory: Callable[[str], Engine],
    topics: Topics,  # noqa: F811
    spark_jars: str,  # noqa: F811
    smtp: SmtpServer,
    stopwatch: Stopwatch,
    tmp_path: Path,
) -> None:
    monday = last_week_for_everyone(datetime.now(UTC))
    engine = database_factory("postgresql")
    with FakeSpotify() as fake, FakeGemini() as gemini:
        diary = write_diary(fake.catalog, monday)
        unplayed = [t for t in fake.catalog.track_list()
                    if t.id not in {listen.track_id for listen in diary.listens}][:3]  # fmt: skip
        gemini.picks = [{"artist": fake.catalog.artists[t.artist_ids[0]].name, "track": t.name,
                         "why": "Close to your week."} for t in unplayed]  # fmt: skip
        env = environment(engine, topics, tmp_path, spark_jars, fake, gemini, smtp)
        with engine.begin() as conn:
            keys = {
                p.spotify_id: users.add_user(conn, name=p.name, email=p.email, timezone=p.timezone)
                for p in PEOPLE
            }
        for person in PEOPLE:
            log_in(person, keys[person.spotify_id], fake, env)
        stopwatch.lap("login")

        # 1. The poller publishes every play to the topic.
        assert poll_as_they_listen(fake, diary, env) == len(diary.listens)
        stopwatch.lap("poll")

        # 2. The Spark job writes them to PostgreSQL.
        job = run("process", "--bus", "kafka", "--engine", "spark", "--until-idle", env=env,
                  timeout=240)  # fmt: skip
        stopwatch.lap("spark")
        plays = len(diary.listens)
        assert f"Read {plays:,} messages" in job.stdout, job.stdout
        assert f"{plays:,} new plays, 0 merged, 0 already there, 0 rejected" in job.stdout
        with engine.connect() as conn:
            stored = conn.execute(select(fact_play.c.user_key)).scalars().all()
        assert len(stored) == plays

        # 3. `wrapped send` writes each story with Gemini and mails it.
        week = f"{monday.isocalendar().year}-W{monday.isocalendar().week:02d}"
        sent = run("send", "--week", week, env=env)
        again = run("send", "--week", week, env=env)
        stopwatch.lap("send")

    assert "3 sent, 0 skipped, 0 failed." in sent.stdout, sent.stdout
    assert "0 sent, 3 skipped, 0 failed." in again.stdout, "each person gets the week once"
    assert len(gemini.requests) == 3, "one story per person, each grounded at the first try"
    prompts = "\n".join("\n".join(gemini_texts(request)) for request in gemini.requests)
    assert not [p.email for p in PEOPLE if p.email in prompts], "the writer sees no addresses"
    with engine.connect() as conn:
        assert set(conn.execute(select(recap.c.writer)).scalars()) == {"gemini"}

    # 4. Each person got exactly one email, and its numbers are the plays' numbers.
    messages = smtp.mailbox.messages()
    recipients = sorted(str(m["To"]) for m in messages)
    assert recipients == sorted(f"{p.name} <{p.email}>" for p in PEOPLE), recipients
    for person in PEOPLE:
        [message] = [m for m in messages if person.email in str(m["To"])]
        assert str(message["Subject"]).startswith("Your week in music · ")
        expected = expected_recap(diary.of(person), person.timezone, monday)
        check_email(message, expected, person)
        links = [f"Open in Spotify: https://open.spotify.com/track/{t.id}" for t in unplayed]
        assert [line for line in text_sections(message)["TRY NEXT"] if "Open in" in line] == links

"""Messages from an independent client (kcat): the valid ones land, the rest reach the DLQ.

One partition, so each message's offset is known: the dead letters must name it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.integration.kafka.conftest import Kcat, Topics, add_user, play_ids, wrapped
from weekly_wrapped.events import PlayEvent
from weekly_wrapped.sources.synthetic import generate_plays

pytestmark = pytest.mark.postgres


def lines(events: list[PlayEvent]) -> bytes:
    """`key<TAB>value` lines for `kcat -K '\t'`: the user id, then the event's JSON."""
    return b"".join(f"{e.user_id}\t".encode() + e.to_json() + b"\n" for e in events)


def test_kcat_messages_valid_and_invalid_are_all_handled(
    database_factory: Callable[[str], Engine], topics: Topics, tmp_path: Path, kcat: Kcat
) -> None:
    engine = database_factory("postgresql")
    user = add_user(engine)
    settings = topics.settings(engine, tmp_path, kafka_partitions=1, batch_size=50)
    # The consumer creates the topics at start; here they must exist before kcat writes.
    assert wrapped("process", "--until-idle", settings=settings).returncode == 0
    plays = list(generate_plays(user, weeks=1, seed=7, timezone="Europe/Berlin"))
    first, last = plays[:40], plays[40:80]
    stranger = plays[0].model_copy(update={"user_id": 999, "event_id": "e" * 32})
    ancient = plays[1].model_copy(
        update={"played_at": datetime(2003, 5, 1, tzinfo=UTC), "event_id": "a" * 32}
    )
    produce = ["-P", "-t", settings.kafka_topic, "-K", "\t"]
    kcat(*produce, "-H", "schema=play.v1", stdin=lines(first))
    bad = [b"not json at all", b'{"schema": "play.v1", "event_id": "x"}']
    kcat(
        *produce,
        "-H",
        "schema=play.v1",
        stdin=b"".join(f"{user}\t".encode() + b + b"\n" for b in bad),
    )
    kcat(*produce, "-H", "schema=play.v1", stdin=lines([stranger, ancient]))
    kcat(*produce, "-H", "schema=play.v2", stdin=lines(plays[2:3]))
    kcat(*produce, "-H", "schema=play.v1", stdin=lines(last))

    processed = wrapped("process", "--until-idle", settings=settings)
    assert processed.returncode == 0, processed.stderr
    assert play_ids(engine) == sorted(e.event_id for e in [*first, *last])
    assert "5 rejected" in processed.stdout

    read = kcat("-C", "-t", settings.kafka_dlq_topic, "-e", "-J", "-q")
    found = [json.loads(line) for line in read.stdout.splitlines()]
    for letter in found:
        pairs = letter["headers"]
        letter["headers"] = dict(zip(pairs[::2], pairs[1::2], strict=True))
    letters = sorted(found, key=lambda d: int(d["headers"]["source.offset"]))
    headers = [d["headers"] for d in letters]
    assert [h["source.offset"] for h in headers] == ["40", "41", "42", "43", "44"]
    assert {h["source.topic"] for h in headers} == {settings.kafka_topic}
    assert {h["source.partition"] for h in headers} == {"0"}
    assert [d["payload"].encode() for d in letters[:2]] == bad, "the original bytes"
    assert json.loads(letters[2]["payload"])["user_id"] == 999
    assert [d["key"] for d in letters] == [str(user)] * 2 + ["999", str(user), str(user)]
    errors = [h["error"] for h in headers]
    assert errors[0].startswith("invalid PlayEvent")
    assert errors[1].startswith("invalid PlayEvent") and "played_at" in errors[1]
    assert errors[2] == "unknown user_id 999"
    assert "before 2006" in errors[3]
    assert errors[4] == "unknown schema 'play.v2': expected play.v1"

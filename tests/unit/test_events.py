import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.factories import episode, play
from weekly_wrapped.errors import InvalidEvent
from weekly_wrapped.events import PlayEvent, json_schema, parse_event, published_schema

AT = datetime(2026, 11, 17, 21, 30, 5, tzinfo=UTC)


def test_the_published_schema_is_generated_from_the_model() -> None:
    assert published_schema() == json.loads(json.dumps(json_schema())), (
        "schemas/play.v1.json is stale: run `python -m weekly_wrapped.events`"
    )


def test_events_validate_against_the_published_schema() -> None:
    for event in (play(1, AT), episode(1, AT)):
        jsonschema.validate(json.loads(event.to_json()), published_schema())


def test_played_at_is_stored_in_utc_with_a_z() -> None:
    local = AT.astimezone(timezone(timedelta(hours=13)))
    event = play(1, local)
    assert event.played_at == AT
    assert json.loads(event.to_json())["played_at"] == "2026-11-17T21:30:05.000Z"


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        (lambda d: d.pop("track"), "track: Field required"),
        (lambda d: d.update(user_id="7"), "user_id: Input should be a valid integer"),
        (lambda d: d.update(ms_played=-1), "ms_played"),
        (lambda d: d.update(played_at="2026-11-17T21:30:05"), "played_at"),
        (lambda d: d.update(played_at="yesterday"), "played_at"),
        (lambda d: d.update(schema="play.v2"), "schema"),
        (lambda d: d.update(source="radio"), "source"),
        (lambda d: d.update(ip_addr="10.0.0.1"), "ip_addr: Extra inputs are not permitted"),
        (lambda d: d["track"].update(artists=[]), "a track needs at least one artist"),
        (lambda d: d.update(event_id="not-a-hash"), "event_id"),
    ],
)
def test_bad_events_are_refused_naming_the_field(change, complaint: str) -> None:  # type: ignore[no-untyped-def]
    document = json.loads(play(1, AT).to_json())
    change(document)
    with pytest.raises(InvalidEvent, match=complaint.replace("(", r"\(")):
        parse_event(json.dumps(document))


def test_the_schema_and_the_model_agree_on_bad_types() -> None:
    document = json.loads(play(1, AT).to_json())
    document["user_id"] = "7"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, published_schema())


names = st.text(min_size=1, max_size=40).filter(lambda s: s.strip() != "")


@given(
    artist=names,
    title=names,
    ms=st.one_of(st.none(), st.integers(0, 3_600_000)),
    at=st.one_of(
        st.datetimes(min_value=datetime(2008, 1, 1), max_value=datetime(2030, 1, 1)),
        st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)),
    ).map(lambda naive: naive.replace(tzinfo=UTC)),
)
def test_event_to_json_and_back_is_the_same_event(
    artist: str, title: str, ms: int | None, at: datetime
) -> None:
    at = at.replace(microsecond=at.microsecond // 1000 * 1000)
    event = play(3, at, artist=artist, title=title, ms_played=ms)
    assert parse_event(event.to_json()) == event
    assert PlayEvent.model_validate_json(event.to_json()).song_key == event.song_key


def test_schema_command_output_is_the_published_schema(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from weekly_wrapped.cli import app

    result = CliRunner().invoke(app, ["schema"])
    assert result.exit_code == 0
    assert json.loads(result.output) == published_schema()


def test_a_time_that_leaves_the_calendar_in_utc_is_an_invalid_event() -> None:
    raw = {
        "schema": "play.v1",
        "event_id": "0" * 32,
        "user_id": 1,
        "played_at": "0001-01-01T00:00:00+14:00",
        "ms_played": 1000,
        "source": "manual",
        "track": {"name": "Harbour Lights", "artists": [{"name": "Nova Lane"}]},
    }
    with pytest.raises(InvalidEvent, match="outside the calendar"):
        parse_event(raw)

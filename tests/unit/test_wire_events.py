"""Messages from outside take msgspec's fast road: the same verdicts and words as the model."""

import json
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.factories import episode, play
from weekly_wrapped.errors import InvalidEvent
from weekly_wrapped.events import PlayEvent, WirePlay, parse_event, read_event

AT = datetime(2026, 11, 17, 21, 30, 5, tzinfo=UTC)

json_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=5),
    st.sampled_from(
        [
            "",
            "x" * 1001,
            "play.v1",
            "track",
            "episode",
            "api",
            "min",
            "0" * 32,
            "2026-11-17T21:30:05Z",
            "2026-11-17T21:30:05+14:00",
            "2026-11-17T21:30:05.1234567Z",
            "2026-11-17 21:30:05",
            "0001-01-01T00:00:00+14:00",
            "9999-12-31T23:59:59-10:00",
        ]
    ),
    st.lists(st.integers(), max_size=2),
    st.builds(dict),  # fresh each time: a mutation may nest one in another
    st.builds(lambda: {"name": "Nova Lane"}),
    st.builds(lambda: [{"name": "Nova Lane"}]),
)
paths = st.sampled_from(
    [
        ("schema",),
        ("event_id",),
        ("user_id",),
        ("played_at",),
        ("time_precision",),
        ("ms_played",),
        ("source",),
        ("kind",),
        ("track",),
        ("context",),
        ("extras",),
        ("unknown",),
        ("track", "name"),
        ("track", "duration_ms"),
        ("track", "explicit"),
        ("track", "album"),
        ("track", "artists"),
        ("track", "show"),
        ("track", "extra"),
        ("track", "album", "name"),
        ("track", "artists", 0, "name"),
        ("track", "artists", 0, "id"),
        ("extras", "shuffle"),
        ("extras", "ip_addr"),
    ]
)


def _mutated(document: dict[str, Any], path: tuple[Any, ...], value: Any, drop: bool) -> None:
    """Set (or drop) the value at `path`, where the parents exist."""
    parent: Any = document
    for step in path[:-1]:
        try:
            parent = parent[step]
        except (KeyError, IndexError, TypeError):
            return
    if not isinstance(parent, dict):
        return
    if drop:
        parent.pop(path[-1], None)
    else:
        parent[path[-1]] = value


def _verdict(read: Any, raw: bytes) -> tuple[str, Any]:
    try:
        event = read(raw)
    except InvalidEvent as exc:
        return "refused", str(exc)
    if isinstance(event, WirePlay):
        as_model = PlayEvent.model_validate_json(msgspec.json.encode(event))
        assert (event.song_key, event.played_at) == (as_model.song_key, as_model.played_at)
        event = as_model
    return "taken", event


@settings(max_examples=400)
@given(
    base=st.sampled_from([play(1, AT), episode(2, AT), play(3, AT, source="api", ms_played=None)]),
    changes=st.lists(st.tuples(paths, json_values, st.booleans()), min_size=1, max_size=3),
)
def test_the_fast_road_gives_the_models_verdict_word_for_word(
    base: PlayEvent, changes: list[tuple[tuple[Any, ...], Any, bool]]
) -> None:
    document = json.loads(base.to_json())
    for path, value, drop in changes:
        _mutated(document, path, value, drop)
    raw = json.dumps(document).encode()
    assert _verdict(read_event, raw) == _verdict(parse_event, raw)


def test_a_valid_message_is_read_by_msgspec_as_the_same_event() -> None:
    event = play(1, AT, track_id="4uLU6hMCjMI75M1A2tKUQC", shuffle=True)
    wire = read_event(event.to_json())
    assert isinstance(wire, WirePlay)
    assert wire.to_json() == event.to_json()
    assert (wire.song_key, wire.performer, wire.played_at) == (
        event.song_key,
        event.performer,
        event.played_at,
    )


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        (lambda d: d.update(user_id="7"), "user_id: Input should be a valid integer"),
        (lambda d: d.update(ip_addr="10.0.0.1"), "ip_addr: Extra inputs are not permitted"),
        (lambda d: d["track"].update(artists=[]), "a track needs at least one artist"),
        (lambda d: d.update(played_at="0001-01-01T00:00:00+14:00"), "outside the calendar"),
    ],
)
def test_a_bad_message_is_refused_in_the_models_words(change, complaint: str) -> None:  # type: ignore[no-untyped-def]
    document = json.loads(play(1, AT).to_json())
    change(document)
    with pytest.raises(InvalidEvent, match=complaint):
        read_event(json.dumps(document))

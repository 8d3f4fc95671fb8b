"""Reading big JSON arrays in slices: every element once, and damage reported where it is."""

from __future__ import annotations

import io
import json
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from weekly_wrapped.sources.json_array import BrokenJson, JsonArrayReader, NotAnArray

TRICKY = [
    "plain",
    'say "hi"',
    "brace }, {",
    "back\\slash",
    "ends in \\",
    "夜に駆ける ünï",
    '\\"},',
    "}",
]


def read_all(blob: bytes, chunk: int = 1 << 20, name: str = "f.json") -> list[Any]:
    return [e for batch in JsonArrayReader(io.BytesIO(blob), name, chunk) for e in batch]


rows_strategy = st.lists(
    st.fixed_dictionaries(
        {
            "ts": st.text(max_size=20),
            "name": st.one_of(st.sampled_from(TRICKY), st.text()),
            "ms_played": st.integers(0, 10**9),
            "shuffle": st.one_of(st.none(), st.booleans()),
        }
    ),
    max_size=40,
)


@settings(max_examples=200, deadline=None)
@given(rows=rows_strategy, chunk=st.integers(1, 700), indent=st.booleans(), ascii=st.booleans())
def test_any_array_of_objects_reads_back_whole_whatever_the_chunk_size(
    rows: list[dict[str, Any]], chunk: int, indent: bool, ascii: bool
) -> None:
    blob = json.dumps(rows, indent=4 if indent else None, ensure_ascii=ascii).encode()
    assert read_all(blob, chunk) == rows


def test_nested_values_and_spotify_style_spacing_read_too() -> None:
    nested = [{"a": {"b": [1, {"c": "}, {"}]}, "d": i} for i in range(300)]
    assert read_all(orjson.dumps(nested, option=orjson.OPT_INDENT_2), 97) == nested
    jackson = (
        b'[ {\n  "endTime" : "2023-02-03 19:08",\n  "msPlayed" : 1\n}, {\n  "msPlayed" : 2\n} ]'
    )
    assert read_all(jackson, 5) == [{"endTime": "2023-02-03 19:08", "msPlayed": 1}, {"msPlayed": 2}]


def test_reading_keeps_about_one_chunk_in_memory() -> None:
    rows = [{"ts": f"2023-01-01T00:00:{i % 60:02d}Z", "ms_played": i} for i in range(20_000)]
    reader = JsonArrayReader(io.BytesIO(orjson.dumps(rows)), "big.json", chunk_bytes=4096)
    sizes = [len(batch) for batch in reader]
    assert sum(sizes) == 20_000
    assert max(sizes) < 200, "each slice holds about one chunk of rows"


def test_a_file_cut_short_names_the_file_and_where_it_stops() -> None:
    blob = json.dumps([{"ts": "2023-01-01T00:00:00Z", "n": i} for i in range(50)], indent=4)
    cut = blob[:1000]
    with pytest.raises(BrokenJson) as caught:
        read_all(cut.encode(), 128, "Streaming_History_Audio_2021_1.json")
    message = str(caught.value)
    line = cut.count("\n") + 1
    column = len(cut) - cut.rfind("\n")
    assert message == (
        f"Streaming_History_Audio_2021_1.json is not valid JSON at byte 1,000 "
        f"(line {line}, column {column}): the file is cut short: it ends inside the list"
    )


def test_damage_in_the_middle_is_reported_at_its_byte_line_and_column() -> None:
    blob = '[{"a": "ü"},\n {"a": 2 x},\n {"a": 3}]'.encode()
    with pytest.raises(BrokenJson, match=r"at byte 23 \(line 2, column 10\): unexpected character"):
        read_all(blob, 4)


def test_what_is_not_an_array_says_what_it_is() -> None:
    with pytest.raises(NotAnArray, match="Userdata.json holds a JSON object"):
        read_all(b'{"username": "ada"}', name="Userdata.json")
    with pytest.raises(BrokenJson, match=r"at byte 0 \(line 1, column 1\): it does not start"):
        read_all(b"<html>Access denied</html>", name="x.json")
    with pytest.raises(BrokenJson, match="x.json is empty"):
        read_all(b"  \n", name="x.json")
    with pytest.raises(BrokenJson, match="unexpected content after document"):
        read_all(b'[{"a": 1}] trailing', name="x.json")


def test_a_byte_order_mark_and_an_empty_array_are_fine() -> None:
    assert read_all(b"\xef\xbb\xbf [\n]\n") == []
    assert read_all(b'\xef\xbb\xbf[{"a": 1}]') == [{"a": 1}]

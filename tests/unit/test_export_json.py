"""Reading big JSON arrays in slices: every element once, and damage reported where it is."""

from __future__ import annotations

import io
import json
import time
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.factories import extended_row
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


# --- hostile and odd input ---------------------------------------------------------------

ODD_STRINGS = [
    "},",
    "}," * 300,
    "\\" * 301,
    '\\"' * 200,
    '"},{"' * 50,
    "\\u00e9" * 50,
    "é夜🎵" * 100,
    "]}" * 100 + "[{",
]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.sampled_from(ODD_STRINGS) | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None)
@given(
    elements=st.lists(json_values, max_size=12),
    chunk=st.integers(1, 300),
    indent=st.booleans(),
    ascii=st.booleans(),
)
def test_any_array_reads_back_whole_with_odd_strings_and_nesting(
    elements: list[Any], chunk: int, indent: bool, ascii: bool
) -> None:
    blob = json.dumps(elements, indent=2 if indent else None, ensure_ascii=ascii).encode()
    assert read_all(blob, chunk) == orjson.loads(blob)


@settings(max_examples=300, deadline=None)
@given(
    rows=rows_strategy,
    edits=st.lists(
        st.tuples(st.floats(0, 1), st.sampled_from(list(b'[]{},:"\\ \n\xc3\xa9x1')), st.booleans()),
        min_size=1,
        max_size=3,
    ),
    chunk=st.integers(1, 200),
)
def test_damaged_input_is_refused_exactly_when_orjson_refuses_it(
    rows: list[dict[str, Any]], edits: list[tuple[float, int, bool]], chunk: int
) -> None:
    """Whatever the damage, the reader yields what orjson would, or says where it breaks."""
    blob = bytearray(json.dumps(rows, ensure_ascii=False).encode())
    for where, byte, insert in edits:
        at = int(where * len(blob))
        if insert or at == len(blob):
            blob.insert(at, byte)
        else:
            blob[at] = byte
    try:
        expected = orjson.loads(bytes(blob))
    except orjson.JSONDecodeError:
        expected = None
    if isinstance(expected, list):
        assert read_all(bytes(blob), chunk) == expected
    else:
        with pytest.raises((BrokenJson, NotAnArray)):
            read_all(bytes(blob), chunk)


MiB = 1 << 20


def export_file(size: int) -> bytes:
    """A pretty-printed extended history of about `size` bytes, shaped like Spotify's."""
    rows = []
    for i in range(size // 640 + 1):
        rows.append(
            extended_row(
                f"2023-01-{1 + i % 28:02d}T12:{i % 60:02d}:00Z",
                1000 * i,
                title=f"Harbour Lights {i}",
                uri="spotify:track:4uLU6hMCjMI75M1A2tKUQC",
                platform="android",
                conn_country="SE",
                offline_timestamp=None,
            )
        )
    return orjson.dumps(rows, option=orjson.OPT_INDENT_2)


def one_long_string(size: int, pattern: bytes = b"},") -> bytes:
    """A file of `size` bytes: one row whose track name is `pattern` over and over."""
    head = b'[{"ts": "2023-01-01T00:00:00Z", "ms_played": 1, "master_metadata_track_name": "'
    tail = b'"}]'
    fill = size - len(head) - len(tail)
    return head + (pattern * (fill // len(pattern) + 1))[:fill] + tail


def best_seconds(blob: bytes, chunk: int, runs: int = 3) -> float:
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        read_all(blob, chunk)
        timings.append(time.perf_counter() - started)
    return min(timings)


@pytest.mark.parametrize("size", [MiB, 4 * MiB], ids=["1 MiB", "4 MiB"])
def test_a_string_full_of_braces_and_commas_reads_as_fast_as_an_export(size: int) -> None:
    """A crafted file costs at most 3× a real export of its size, so time stays linear in size."""
    crafted = one_long_string(size)
    (row,) = read_all(crafted, 64 << 10)
    assert row["master_metadata_track_name"].startswith("},},")
    assert best_seconds(crafted, 64 << 10) <= 3 * best_seconds(export_file(size), 64 << 10)


@pytest.mark.parametrize(
    "pattern",
    [b"\\\\", b'\\"', b"\\u00e9", b'\\\\\\"}, {\\"', "夜🎵},".encode()],
    ids=["backslashes", "escaped quotes", "unicode escapes", "escapes and braces", "multi-byte"],
)
def test_long_strings_of_escapes_read_back_whole_in_linear_time(pattern: bytes) -> None:
    blob = one_long_string(MiB, pattern)
    blob = blob[: blob.rfind(pattern) + len(pattern)] + b'"}]'  # whole escapes only
    expected = orjson.loads(blob)
    assert read_all(blob, 4096) == expected
    assert best_seconds(blob, 4096, runs=1) < 1.0, "about 10 ms here; minutes if quadratic"


def test_deep_nesting_is_refused_where_it_goes_too_deep_and_quickly() -> None:
    deep = b'[{"a": 1}, {"b": ' + b"[" * MiB + b"]" * MiB + b"}]"
    started = time.perf_counter()
    with pytest.raises(BrokenJson, match=r"at byte [\d,]+ \(line 1, column [\d,]+\): depth limit"):
        read_all(deep, 64 << 10)
    assert time.perf_counter() - started < 2.0, "about 50 ms here"
    nested: Any = {"end": "}, {"}
    for depth in range(200):
        nested = [nested, {"depth": depth}] if depth % 2 else {"d": nested}
    rows = [nested, {"after": "the nest"}] * 3
    assert read_all(json.dumps(rows, indent=1).encode(), 7) == rows


def test_elements_parted_by_spaced_commas_still_read_a_slice_at_a_time() -> None:
    rows = [{"ts": f"2023-01-01T00:00:{i % 60:02d}Z", "ms_played": i} for i in range(20_000)]
    blob = b"[" + b" , ".join(orjson.dumps(r) for r in rows) + b"]"
    reader = JsonArrayReader(io.BytesIO(blob), "spaced.json", chunk_bytes=4096)
    sizes = [len(batch) for batch in reader]
    assert sum(sizes) == 20_000
    assert max(sizes) < 200, "each slice holds about one chunk of rows"


def test_a_trailing_comma_or_bad_utf8_is_damage_named_where_it_is() -> None:
    with pytest.raises(BrokenJson, match=r"at byte 10 \(line 1, column 11\): trailing comma"):
        read_all(b'[{"a": 1},]', 4)
    for blob in (b'[{"a": 1},,{"a": 2}]', b'[ ,{"a": 2}]'):
        with pytest.raises(BrokenJson, match=r"column (11|3)\): unexpected character, expected"):
            read_all(blob, 1)
    blob = '[{"a": "夜"},\n {"a": "ü'.encode() + b"\xff" + b'"}]'
    with pytest.raises(
        BrokenJson, match=r"at byte 25 \(line 2, column 11\): it is not valid UTF-8"
    ):
        read_all(blob, 3)


@pytest.mark.parametrize("chunk", range(1, 9))
def test_multi_byte_characters_split_at_every_slice_edge_read_back_whole(chunk: int) -> None:
    rows = [{"name": "夜に駆ける 🎵 },{ ünï", "n": i} for i in range(40)]
    blob = json.dumps(rows, ensure_ascii=False).encode()
    assert read_all(blob, chunk) == rows

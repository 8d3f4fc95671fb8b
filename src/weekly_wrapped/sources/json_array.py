"""Reading a big JSON array a slice at a time, in bounded memory.

Export files are arrays of flat objects, 10 MB and more each. The reader keeps
about one chunk in memory: it cuts the buffer after the last complete element
(a ``}`` outside any string, followed by a comma) and parses that slice with
orjson. A slice that does not parse is either damaged (the error names the file,
the byte, the line and the column) or was cut inside a nested value, in which
case the reader waits for more data. Only the end of the file is parsed as the
remainder, so a file cut short is reported where it stops.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import IO, Any

import orjson

from weekly_wrapped.errors import ImportFileError

CHUNK_BYTES = 1 << 20
MAX_ELEMENT_BYTES = 64 << 20
_WHITESPACE = b" \t\r\n"
_SPACE_BYTES = frozenset(_WHITESPACE)
_BOM = b"\xef\xbb\xbf"
_ESCAPE = re.compile(rb"\\.", re.DOTALL)


class BrokenJson(ImportFileError):
    """A file is not valid JSON: damaged, cut short, or not JSON at all."""

    hint = (
        "The file is damaged or incomplete, and nothing from it was imported; the other "
        "files were. Download your data from Spotify again and import the new copy."
    )


class NotAnArray(ImportFileError):
    """A JSON file that holds something other than an array (so no listening history)."""


class JsonArrayReader:
    """Yields the elements of a JSON array from a byte stream, one slice at a time."""

    def __init__(self, stream: IO[bytes], name: str, chunk_bytes: int = CHUNK_BYTES) -> None:
        self._stream = stream
        self._name = name
        self._chunk_bytes = chunk_bytes
        self._buffer = b""
        self._offset = 0
        """Where `_buffer` starts in the file."""
        self._newlines = 0
        """Newlines before `_buffer`."""
        self._line_start = 0
        """Where the line holding `_offset` starts in the file."""
        self._search_from = 0
        self.bytes_read = 0

    def __iter__(self) -> Iterator[list[Any]]:
        self._open_array()
        while chunk := self._read():
            self._buffer += chunk
            elements = self._complete_elements()
            if elements:
                yield elements
        last = self._remainder()
        if last:
            yield last

    def _read(self) -> bytes:
        chunk = self._stream.read(self._chunk_bytes)
        self.bytes_read += len(chunk)
        return chunk

    def _open_array(self) -> None:
        """Skip to just after the opening ``[``, or say what the file holds instead."""
        while True:
            chunk = self._read()
            if not chunk:
                raise BrokenJson(f"{self._name} is empty, not a JSON array")
            self._buffer += chunk
            if self._offset == 0 and self._buffer.startswith(_BOM):
                self._consume(len(_BOM))
            start = len(self._buffer) - len(self._buffer.lstrip(_WHITESPACE))
            if start < len(self._buffer):
                break
        first = self._buffer[start : start + 1]
        if first == b"[":
            self._consume(start + 1)
        elif first == b"{":
            raise NotAnArray(f"{self._name} holds a JSON object, not a list of plays")
        else:
            raise self._broken(start, "it does not start with '['")

    def _complete_elements(self) -> list[Any]:
        cut = self._cut()
        if cut < 0:
            if len(self._buffer) > MAX_ELEMENT_BYTES:
                raise self._broken(self._search_from, "no element ends within 64 MiB")
            return []
        document = b"[" + self._buffer[:cut] + b"]"
        try:
            elements: list[Any] = orjson.loads(document)
        except orjson.JSONDecodeError as exc:
            at = _byte_index(document, exc.pos) - 1
            if at >= cut and len(self._buffer) <= MAX_ELEMENT_BYTES:
                # The cut fell inside a nested value; a later one will be whole.
                self._search_from = cut + 1
                return []
            raise self._broken(at, exc.msg) from None
        self._consume(cut + 1)
        return elements

    def _cut(self) -> int:
        """The last comma that follows a complete element (a ``}`` outside strings), or -1."""
        buffer, end = self._buffer, len(self._buffer)
        while (comma := buffer.rfind(b",", self._search_from, end)) >= 0:
            before = comma - 1
            while before >= 0 and buffer[before] in _SPACE_BYTES:
                before -= 1
            if before >= 0 and buffer[before] == 0x7D and _outside_strings(buffer, before):
                return comma
            end = comma
        return -1

    def _remainder(self) -> list[Any]:
        """Parse what is left at the end of the file: the last elements and the ``]``."""
        document = b"[" + self._buffer
        try:
            elements: list[Any] = orjson.loads(document)
        except orjson.JSONDecodeError as exc:
            at = _byte_index(document, exc.pos) - 1
            if at >= len(self._buffer.rstrip(_WHITESPACE)):
                raise self._broken(at, "the file is cut short: it ends inside the list") from None
            raise self._broken(at, exc.msg) from None
        return elements

    def _consume(self, count: int) -> None:
        taken = self._buffer[:count]
        newlines = taken.count(b"\n")
        if newlines:
            self._newlines += newlines
            self._line_start = self._offset + taken.rfind(b"\n") + 1
        self._offset += count
        self._buffer = self._buffer[count:]
        self._search_from = 0

    def _broken(self, index: int, problem: str) -> BrokenJson:
        """An error naming the file and where in it, `index` bytes into the buffer."""
        before = self._buffer[:index]
        line = self._newlines + before.count(b"\n") + 1
        last_newline = before.rfind(b"\n")
        line_start = self._line_start if last_newline < 0 else self._offset + last_newline + 1
        at = self._offset + index
        return BrokenJson(
            f"{self._name} is not valid JSON at byte {at:,} (line {line:,}, column "
            f"{at - line_start + 1:,}): {problem}"
        )


def _outside_strings(buffer: bytes, index: int) -> bool:
    """Whether `index` is outside any string, counting quotes from the buffer's start."""
    quotes = buffer.count(b'"', 0, index)
    if buffer.find(b"\\", 0, index) >= 0:
        quotes -= _escaped_quotes(buffer, index)
    return quotes % 2 == 0


def _escaped_quotes(buffer: bytes, index: int) -> int:
    if buffer.find(b"\\\\", 0, index) < 0:
        return buffer.count(b'\\"', 0, index)
    prefix = buffer[:index]
    return prefix.count(b'"') - _ESCAPE.sub(b"", prefix).count(b'"')


def _byte_index(document: bytes, char_index: int) -> int:
    """orjson reports positions in characters; the user wants bytes."""
    text = document.decode("utf-8", errors="surrogateescape")
    return len(text[:char_index].encode("utf-8", errors="surrogateescape"))

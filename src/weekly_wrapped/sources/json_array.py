"""Reading a big JSON array a slice at a time, in bounded memory and linear time.

Export files are arrays of flat objects, 10 MB and more each. The reader keeps
about one chunk in memory, cuts the buffer after the last complete element and
parses that slice with orjson. Where to cut is found in one of two ways:

- **Fast:** after the last ``},`` in the buffer. If the slice parses, the cut was
  right (a cut inside a string or a nested value never parses), and this is the
  whole cost on ordinary files.
- **Exact:** otherwise a scanner looks at each byte once, tracking whether it is
  inside a string, after a backslash, and how deep in brackets, and notes the
  last comma between two elements. It keeps its state from chunk to chunk until
  it finds a cut, so nothing is scanned twice however hostile the file (a string
  full of ``},``, deep nesting, long escapes). Regular expressions carry it over
  whole elements, strings and runs of plain bytes in one step.

A slice cut by the scanner that does not parse is damaged: the error names the
file, the byte, the line and the column. Only the end of the file is parsed as
the remainder, so a file cut short is reported where it stops.
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
_BOM = b"\xef\xbb\xbf"
_QUOTE, _COMMA = ord('"'), ord(",")
_OPENERS = frozenset(b"[{")

_SPACE = rb"[ \t\r\n]*+"
_STRING = rb'"[^"\\]{0,4096}+(?:\\.[^"\\]{0,4096}+){0,64}+"'
"""A string of modest length; longer ones are left to the scanner's string state."""
_FLAT = rb'(?:[^"{}\[\]]++|' + _STRING + rb")*+"
"""Plain bytes and whole strings: anything up to a bracket or an unfinished string."""
_FLAT_VALUE = rb"\{" + _FLAT + rb"\}|\[" + _FLAT + rb"\]"
"""An object or array with no brackets nested in it, such as an export row."""
_ELEMENT = rb"(?:" + _FLAT_VALUE + rb"|" + _STRING + rb'|[^"{}\[\], \t\r\n]++)'

_FLAT_ELEMENTS = re.compile(rb"(?:" + _SPACE + _ELEMENT + _SPACE + rb",)++", re.DOTALL)
_INSIDE = re.compile(rb'(?:[^"{}\[\]]++|' + _STRING + rb"|" + _FLAT_VALUE + rb")*+", re.DOTALL)
_BETWEEN = re.compile(rb'[^"{}\[\],]*+')
_STRING_REST = re.compile(rb'[^"\\]*+(?:\\.[^"\\]*+)*+', re.DOTALL)
_OPENING = re.compile(rb"[{\[]++")
_CLOSING = re.compile(rb"[}\]]++")


class BrokenJson(ImportFileError):
    """A file is not valid JSON: damaged, cut short, or not JSON at all."""

    hint = (
        "The file is damaged or incomplete, and nothing from it was imported; the other "
        "files were. Download your data from Spotify again and import the new copy."
    )


class NotAnArray(ImportFileError):
    """A JSON file that holds something other than an array (so no listening history)."""


class ArrayScanner:
    """Finds where the elements of a JSON array end, looking at each byte once.

    Positions are offsets into the reader's buffer, which starts just inside the
    ``[`` or after a comma between elements. The state carries over between calls
    as the buffer grows, so bytes already scanned are never looked at again.
    """

    def __init__(self) -> None:
        self.scanned = 0
        """Bytes of the buffer looked at so far; the buffer starts between elements."""
        self.cut = -1
        """The last comma between two elements, or -1."""
        self.end = -1
        """Where the array's closing ``]`` (or a stray ``}``) is, once seen; -1 before."""
        self.depth = 0
        """Brackets open inside the array at `scanned`."""
        self.in_string = False

    def scan(self, buffer: bytearray) -> None:
        """Look at the bytes added to `buffer` since the last call."""
        pos, size = self.scanned, len(buffer)
        while pos < size and self.end < 0:
            if self.in_string:
                pos = self._string(buffer, pos)
                if self.in_string:
                    break  # the buffer ends inside the string
            elif self.depth == 0:
                pos = self._between(buffer, pos)
            else:
                pos = self._inside(buffer, pos)
        self.scanned = pos

    def _string(self, buffer: bytearray, pos: int) -> int:
        """Skip to just after the closing quote, or stop before a backslash that ends the buffer."""
        quote = buffer.find(b'"', pos)
        end = len(buffer) if quote < 0 else quote
        if buffer.find(b"\\", pos, end) >= 0:
            end = _match_end(_STRING_REST, buffer, pos)  # escapes: the expression pairs them
        if end < len(buffer) and buffer[end] == _QUOTE:
            self.in_string = False
            return end + 1
        return end

    def _between(self, buffer: bytearray, pos: int) -> int:
        """At depth 0: whole elements with their commas, then one byte that changes state."""
        elements = _FLAT_ELEMENTS.match(buffer, pos)
        if elements is not None:
            pos = elements.end()
            self.cut = pos - 1
        pos = _match_end(_BETWEEN, buffer, pos)
        if pos >= len(buffer):
            return pos
        byte = buffer[pos]
        if byte == _COMMA:
            self.cut = pos
        elif byte == _QUOTE:
            self.in_string = True
        elif byte in _OPENERS:
            return self._open(buffer, pos)
        else:
            self.end = pos
        return pos + 1

    def _inside(self, buffer: bytearray, pos: int) -> int:
        """Inside an element: skip plain bytes and whole strings, then follow the brackets."""
        pos = _match_end(_INSIDE, buffer, pos)
        if pos >= len(buffer):
            return pos
        byte = buffer[pos]
        if byte == _QUOTE:
            self.in_string = True
            return pos + 1
        if byte in _OPENERS:
            return self._open(buffer, pos)
        closed = min(_match_end(_CLOSING, buffer, pos) - pos, self.depth)
        self.depth -= closed
        return pos + closed

    def _open(self, buffer: bytearray, pos: int) -> int:
        run = _match_end(_OPENING, buffer, pos)
        self.depth += run - pos
        return run


def _match_end(pattern: re.Pattern[bytes], buffer: bytearray, pos: int) -> int:
    """Where `pattern`, which may match nothing, stops matching from `pos`."""
    found = pattern.match(buffer, pos)
    return pos if found is None else found.end()


class JsonArrayReader:
    """Yields the elements of a JSON array from a byte stream, one slice at a time."""

    def __init__(self, stream: IO[bytes], name: str, chunk_bytes: int = CHUNK_BYTES) -> None:
        self._stream = stream
        self._name = name
        self._chunk_bytes = chunk_bytes
        self._buffer = bytearray()
        self._scanner: ArrayScanner | None = None
        """Set while the fast cut fails, until the scanner finds a cut."""
        self._end = -1
        """Where the scanner saw the array end, once it has."""
        self._after_comma = False
        """Whether the buffer follows a comma, so the array must not end before an element."""
        self._searched = 0
        """Where the fast cut looks for ``},`` next: bytes before were tried."""
        self._offset = 0
        """Where `_buffer` starts in the file."""
        self._newlines = 0
        """Newlines before `_buffer`."""
        self._line_start = 0
        """Where the line holding `_offset` starts in the file."""
        self.bytes_read = 0

    def __iter__(self) -> Iterator[list[Any]]:
        self._open_array()
        while self._end < 0 and (chunk := self._read()):
            self._buffer += chunk
            elements = self._complete_elements()
            if elements:
                yield elements
        self._read_past_the_end()
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
            self._consume(start)
        first = self._buffer[start : start + 1]
        if first == b"[":
            self._consume(start + 1)
        elif first == b"{":
            raise NotAnArray(f"{self._name} holds a JSON object, not a list of plays")
        else:
            raise self._broken(start, "it does not start with '['")

    def _complete_elements(self) -> list[Any]:
        if self._scanner is None:
            elements = self._fast_cut()
            if elements is not None:
                return elements
            self._scanner = ArrayScanner()
        return self._exact_cut(self._scanner)

    def _fast_cut(self) -> list[Any] | None:
        """The elements before the last ``},`` not tried yet, or None if it is not between them."""
        start, self._searched = self._searched, len(self._buffer) - 1
        cut = self._buffer.rfind(b"},", start) + 1
        if cut <= 0:
            return None
        try:
            elements: list[Any] = orjson.loads(b"[" + self._buffer[:cut] + b"]")
        except orjson.JSONDecodeError:
            return None
        self._consume(cut + 1)
        self._after_comma = True
        return elements

    def _exact_cut(self, scanner: ArrayScanner) -> list[Any]:
        scanner.scan(self._buffer)
        cut = scanner.cut
        if cut < 0:
            self._end = scanner.end
            if len(self._buffer) > MAX_ELEMENT_BYTES:
                raise self._too_long()
            return []
        document = b"[" + self._buffer[:cut] + b"]"
        try:
            elements: list[Any] = orjson.loads(document)
        except orjson.JSONDecodeError as exc:
            at, problem = _problem(document, exc)
            raise self._broken(min(at, cut), problem) from None
        if not elements:  # a comma with no element before it
            raise self._broken(cut, "unexpected character, expected a JSON value")
        self._scanner = None
        self._consume(cut + 1)
        self._after_comma = True
        self._end = scanner.end - cut - 1 if scanner.end > cut else -1
        return elements

    def _read_past_the_end(self) -> None:
        """After the closing ``]``: read on, keeping only what is not whitespace."""
        if self._end < 0 or self._buffer[self._end + 1 :].strip(_WHITESPACE):
            return
        while chunk := self._read():
            if chunk.strip(_WHITESPACE):
                self._buffer += chunk
                return

    def _remainder(self) -> list[Any]:
        """Parse what is left at the end of the file: the last elements and the ``]``."""
        document = b"[" + self._buffer
        try:
            elements: list[Any] = orjson.loads(document)
        except orjson.JSONDecodeError as exc:
            at, problem = _problem(document, exc)
            if at >= len(self._buffer.rstrip(_WHITESPACE)):
                problem = "the file is cut short: it ends inside the list"
            raise self._broken(at, problem) from None
        if not elements and self._after_comma:
            raise self._broken(self._buffer.index(b"]"), "trailing comma is not allowed")
        return elements

    def _too_long(self) -> BrokenJson:
        """No element ends within the limit: damage orjson can place, or one huge element."""
        document = b"[" + self._buffer
        try:
            orjson.loads(document)
        except orjson.JSONDecodeError as exc:
            at, problem = _problem(document, exc)
            if at < len(self._buffer.rstrip(_WHITESPACE)):
                return self._broken(at, problem)
        start = len(self._buffer) - len(self._buffer.lstrip(_WHITESPACE))
        return self._broken(start, "no element ends within 64 MiB")

    def _consume(self, count: int) -> None:
        buffer = self._buffer
        newlines = buffer.count(b"\n", 0, count)
        if newlines:
            self._newlines += newlines
            self._line_start = self._offset + buffer.rfind(b"\n", 0, count) + 1
        self._offset += count
        self._searched = max(self._searched - count, 0)
        del buffer[:count]

    def _broken(self, index: int, problem: str) -> BrokenJson:
        """An error naming the file and where in it, `index` bytes into the buffer."""
        buffer = self._buffer
        line = self._newlines + buffer.count(b"\n", 0, index) + 1
        last_newline = buffer.rfind(b"\n", 0, index)
        line_start = self._line_start if last_newline < 0 else self._offset + last_newline + 1
        at = self._offset + index
        return BrokenJson(
            f"{self._name} is not valid JSON at byte {at:,} (line {line:,}, column "
            f"{at - line_start + 1:,}): {problem}"
        )


def _problem(document: bytes, error: orjson.JSONDecodeError) -> tuple[int, str]:
    """Where in the buffer (one byte behind `document`, which adds a ``[``) and what."""
    try:
        text = document.decode("utf-8")
    except UnicodeDecodeError as bad:  # orjson places this at 0; the user wants the byte
        return bad.start - 1, "it is not valid UTF-8"
    return len(text[: error.pos].encode("utf-8")) - 1, error.msg

"""Finding the files of a Spotify privacy export: in a zip, in a folder, or named one by one.

Zips are read in place, never extracted. An archive with an entry that climbs out
of it, or that would inflate far beyond its size (a decompression bomb), is
refused whole before a byte of it is read.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO

from weekly_wrapped.errors import ImportFileError

MAX_ENTRIES = 10_000
MAX_RATIO = 200
"""Spotify's JSON compresses about 10×; a bomb compresses about 1000×."""
MAX_TOTAL_BYTES = 16 << 30
"""A lifetime of listening is well under 2 GiB of JSON."""
_RATIO_CHECK_FROM = 1 << 20


class UnsafeArchive(ImportFileError):
    """A zip that is not safe to read: an entry escapes it, or it is a decompression bomb."""

    hint = "Nothing was imported from it. Download your data again from Spotify and import that."


@dataclass(frozen=True)
class ExportFile:
    """One JSON file of an export, wherever it lives."""

    name: str
    """As shown to the user: a path inside the folder, or ``archive.zip:inner/path.json``."""
    size: int
    fingerprint: str
    """Changes when the file does: a rerun redoes a file whose fingerprint differs."""
    opener: Callable[[], AbstractContextManager[IO[bytes]]] = field(repr=False, compare=False)
    named: bool = False
    """The user named this very file, so it must be listening history."""

    def open(self) -> AbstractContextManager[IO[bytes]]:
        return self.opener()


def find_export_files(paths: Sequence[Path]) -> list[ExportFile]:
    """Every JSON file in the given zips, folders and files, in a stable order."""
    found: list[ExportFile] = []
    for path in paths:
        if not path.exists():
            raise ImportFileError(
                f"{path} does not exist",
                hint="Pass the my_spotify_data.zip you downloaded, its unpacked folder, or its files.",
            )
        if path.is_dir():
            found += _folder_files(path)
        elif _is_zip(path):
            found += archive_files(path)
        else:
            found.append(_plain_file(path, path.name, named=True))
    return found


def _is_zip(path: Path) -> bool:
    return path.suffix.lower() == ".zip" or zipfile.is_zipfile(path)


def _folder_files(folder: Path) -> list[ExportFile]:
    files: list[ExportFile] = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        suffix = path.suffix.lower()
        if suffix == ".json":
            files.append(_plain_file(path, path.relative_to(folder).as_posix(), named=False))
        elif suffix == ".zip":
            files += archive_files(path, shown_as=path.relative_to(folder).as_posix())
    return files


def _plain_file(path: Path, shown_as: str, *, named: bool) -> ExportFile:
    stat = path.stat()

    @contextmanager
    def opener() -> Iterator[IO[bytes]]:
        with path.open("rb") as stream:
            yield stream

    fingerprint = f"{stat.st_size}:{stat.st_mtime_ns}"
    return ExportFile(shown_as, stat.st_size, fingerprint, opener, named)


def archive_files(path: Path, shown_as: str | None = None) -> list[ExportFile]:
    """The JSON entries of a zip, after checking the whole archive is safe to read."""
    shown = shown_as or path.name
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise ImportFileError(
            f"{shown} is not a readable zip archive ({exc})",
            hint="Download the export again, or unpack it and import the folder.",
        ) from None
    check_archive(shown, entries)
    return [
        _archive_entry(path, shown, entry)
        for entry in sorted(entries, key=lambda e: e.filename)
        if not entry.is_dir() and entry.filename.lower().endswith(".json")
    ]


def _archive_entry(path: Path, shown: str, entry: zipfile.ZipInfo) -> ExportFile:
    @contextmanager
    def opener() -> Iterator[IO[bytes]]:
        with zipfile.ZipFile(path) as archive, archive.open(entry) as stream:
            yield stream

    fingerprint = f"{entry.file_size}:{entry.CRC:08x}"
    return ExportFile(f"{shown}:{entry.filename}", entry.file_size, fingerprint, opener)


def check_archive(shown: str, entries: Sequence[zipfile.ZipInfo]) -> None:
    """Refuse archives with escaping entries, encrypted entries, or bomb-like sizes."""
    if len(entries) > MAX_ENTRIES:
        raise UnsafeArchive(f"refusing {shown}: it holds {len(entries):,} entries")
    for entry in entries:
        if escapes(entry.filename):
            raise UnsafeArchive(
                f"refusing {shown}: the entry {entry.filename!r} points outside the archive"
            )
        if entry.flag_bits & 0x1:
            raise ImportFileError(
                f"{shown}: the entry {entry.filename!r} is encrypted",
                hint="Spotify's exports are not encrypted; download the export again.",
            )
        _check_inflation(shown, entry)
    total = sum(e.file_size for e in entries)
    if total > MAX_TOTAL_BYTES:
        raise UnsafeArchive(f"refusing {shown}: it would unpack to {total / (1 << 30):,.1f} GiB")


def _check_inflation(shown: str, entry: zipfile.ZipInfo) -> None:
    if entry.file_size < _RATIO_CHECK_FROM:
        return
    ratio = entry.file_size / max(entry.compress_size, 1)
    if ratio > MAX_RATIO:
        raise UnsafeArchive(
            f"refusing {shown}: the entry {entry.filename!r} would inflate {ratio:,.0f}× "
            f"to {entry.file_size:,} bytes, like a decompression bomb"
        )


def escapes(name: str) -> bool:
    """Whether an archive entry's name is absolute or climbs out with ``..``."""
    unified = name.replace("\\", "/")
    if unified.startswith("/") or (len(unified) > 1 and unified[1] == ":") or "\x00" in name:
        return True
    return ".." in PurePosixPath(unified).parts

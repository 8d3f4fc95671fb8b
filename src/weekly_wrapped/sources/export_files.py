"""Finding the files of a Spotify privacy export: in a zip, in a folder, or named one by one.

Zips are read in place, never extracted. An archive with an entry that climbs out
of it, with more entries or more bytes unpacked than the limits allow, or that
would inflate far beyond its size (a decompression bomb), is refused whole before
a byte of it is read. A zip inside the zip is listed as skipped, with the reason.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import IO

from weekly_wrapped.errors import ImportFileError

MAX_RATIO = 200
"""Spotify's JSON compresses about 10×; a bomb compresses about 1000×."""
_RATIO_CHECK_FROM = 64 << 10
"""Below this an entry's ratio says little (and it can do no harm); the total still counts."""
NESTED_ZIP = "a zip inside the archive is not opened; unpack it and import that zip too"


@dataclass(frozen=True)
class ArchiveLimits:
    """How much one archive may unpack to (WRAPPED_IMPORT_MAX_ARCHIVE_BYTES and _ENTRIES)."""

    max_bytes: int = 8 << 30
    """A lifetime of listening is a few GB of JSON at most."""
    max_entries: int = 2_000
    """An export holds a few dozen files."""


DEFAULT_LIMITS = ArchiveLimits()


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
    skipped: str | None = None
    """Why the file is listed but not read, such as a zip inside the zip."""

    def open(self) -> AbstractContextManager[IO[bytes]]:
        return self.opener()


def find_export_files(
    paths: Sequence[Path], limits: ArchiveLimits = DEFAULT_LIMITS
) -> list[ExportFile]:
    """Every JSON file in the given zips, folders and files, in a stable order."""
    found: list[ExportFile] = []
    for path in paths:
        if not path.exists():
            raise ImportFileError(
                f"{path} does not exist",
                hint="Pass the my_spotify_data.zip you downloaded, its unpacked folder, or its files.",
            )
        if path.is_dir():
            found += _folder_files(path, limits)
        elif _is_zip(path):
            found += archive_files(path, limits)
        else:
            found.append(_plain_file(path, path.name, named=True))
    return found


def _is_zip(path: Path) -> bool:
    return path.suffix.lower() == ".zip" or zipfile.is_zipfile(path)


def _folder_files(folder: Path, limits: ArchiveLimits) -> list[ExportFile]:
    files: list[ExportFile] = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        suffix = path.suffix.lower()
        if suffix == ".json":
            files.append(_plain_file(path, path.relative_to(folder).as_posix(), named=False))
        elif suffix == ".zip":
            files += archive_files(path, limits, shown_as=path.relative_to(folder).as_posix())
    return files


def _plain_file(path: Path, shown_as: str, *, named: bool) -> ExportFile:
    stat = path.stat()

    @contextmanager
    def opener() -> Iterator[IO[bytes]]:
        with path.open("rb") as stream:
            yield stream

    fingerprint = f"{stat.st_size}:{stat.st_mtime_ns}"
    return ExportFile(shown_as, stat.st_size, fingerprint, opener, named)


def archive_files(
    path: Path, limits: ArchiveLimits = DEFAULT_LIMITS, shown_as: str | None = None
) -> list[ExportFile]:
    """The JSON entries of a zip, and the zips in it as skipped, once it is safe to read."""
    shown = shown_as or path.name
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise ImportFileError(
            f"{shown} is not a readable zip archive ({exc})",
            hint="Download the export again, or unpack it and import the folder.",
        ) from None
    check_archive(shown, entries, limits)
    files = []
    for entry in sorted(entries, key=lambda e: e.filename):
        suffix = PurePosixPath(entry.filename).suffix.lower()
        if entry.is_dir() or suffix not in (".json", ".zip"):
            continue
        found = _archive_entry(path, shown, entry)
        files.append(found if suffix == ".json" else replace(found, skipped=NESTED_ZIP))
    return files


def _archive_entry(path: Path, shown: str, entry: zipfile.ZipInfo) -> ExportFile:
    @contextmanager
    def opener() -> Iterator[IO[bytes]]:
        with zipfile.ZipFile(path) as archive, archive.open(entry) as stream:
            yield stream

    fingerprint = f"{entry.file_size}:{entry.CRC:08x}"
    return ExportFile(f"{shown}:{entry.filename}", entry.file_size, fingerprint, opener)


def check_archive(
    shown: str, entries: Sequence[zipfile.ZipInfo], limits: ArchiveLimits = DEFAULT_LIMITS
) -> None:
    """Refuse archives with escaping or encrypted entries, too many of them, or bomb-like sizes."""
    if len(entries) > limits.max_entries:
        raise UnsafeArchive(
            f"refusing {shown}: it holds {len(entries):,} entries, more than the "
            f"{limits.max_entries:,} allowed (WRAPPED_IMPORT_MAX_ARCHIVE_ENTRIES)"
        )
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
    _check_total(shown, entries, limits)


def _check_inflation(shown: str, entry: zipfile.ZipInfo) -> None:
    if entry.file_size < _RATIO_CHECK_FROM:
        return
    ratio = entry.file_size / max(entry.compress_size, 1)
    if ratio > MAX_RATIO:
        raise UnsafeArchive(
            f"refusing {shown}: the entry {entry.filename!r} would inflate {ratio:,.0f}× "
            f"to {entry.file_size:,} bytes, like a decompression bomb"
        )


def _check_total(shown: str, entries: Sequence[zipfile.ZipInfo], limits: ArchiveLimits) -> None:
    total = sum(e.file_size for e in entries)
    if total > limits.max_bytes:
        raise UnsafeArchive(
            f"refusing {shown}: it would unpack to {total / (1 << 30):,.1f} GiB, more than the "
            f"{limits.max_bytes / (1 << 30):,.1f} GiB allowed (WRAPPED_IMPORT_MAX_ARCHIVE_BYTES)"
        )
    packed = sum(e.compress_size for e in entries)
    if total >= _RATIO_CHECK_FROM and total > MAX_RATIO * max(packed, 1):
        raise UnsafeArchive(
            f"refusing {shown}: its {len(entries):,} entries would inflate "
            f"{total / max(packed, 1):,.0f}× to {total:,} bytes, like a decompression bomb"
        )


def escapes(name: str) -> bool:
    """Whether an archive entry's name is absolute or climbs out with ``..``."""
    unified = name.replace("\\", "/")
    if unified.startswith("/") or (len(unified) > 1 and unified[1] == ":") or "\x00" in name:
        return True
    return ".." in PurePosixPath(unified).parts

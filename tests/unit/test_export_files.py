"""Finding export files in zips and folders, and refusing archives that are not safe."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from weekly_wrapped.errors import ImportFileError
from weekly_wrapped.sources.export_files import (
    NESTED_ZIP,
    ArchiveLimits,
    UnsafeArchive,
    check_archive,
    escapes,
    find_export_files,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "exports"


def zip_of(folder: Path, target: Path) -> Path:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, Path("my_spotify_data") / path.relative_to(folder))
    return target


def test_a_folder_yields_its_json_files_in_a_stable_order() -> None:
    names = [f.name for f in find_export_files([FIXTURES / "my_spotify_data"])]
    assert names == [
        "Spotify Account Data/Playlist1.json",
        "Spotify Account Data/SearchQueries.json",
        "Spotify Account Data/StreamingHistory_music_0.json",
        "Spotify Account Data/StreamingHistory_podcast_0.json",
        "Spotify Account Data/Userdata.json",
        "Spotify Extended Streaming History/Streaming_History_Audio_2022-2023_0.json",
        "Spotify Extended Streaming History/Streaming_History_Audio_2023_1.json",
        "Spotify Extended Streaming History/Streaming_History_Video_2023.json",
    ]


def test_a_zip_is_read_in_place_with_the_same_bytes(tmp_path: Path) -> None:
    archive = zip_of(FIXTURES / "my_spotify_data", tmp_path / "my_spotify_data.zip")
    files = find_export_files([archive])
    music = next(f for f in files if f.name.endswith("StreamingHistory_music_0.json"))
    assert music.name == (
        "my_spotify_data.zip:my_spotify_data/Spotify Account Data/StreamingHistory_music_0.json"
    )
    with music.open() as stream:
        original = (
            FIXTURES / "my_spotify_data" / "Spotify Account Data" / "StreamingHistory_music_0.json"
        )
        assert stream.read() == original.read_bytes()
    assert not list(tmp_path.glob("my_spotify_data/*")), "nothing is extracted"


def test_a_single_file_is_taken_as_named(tmp_path: Path) -> None:
    path = FIXTURES / "older_export" / "MyData" / "endsong_0.json"
    (found,) = find_export_files([path])
    assert (found.name, found.named, found.size) == ("endsong_0.json", True, path.stat().st_size)


@pytest.mark.parametrize(
    "entry", ["../Streaming_History_Audio_2023_0.json", "/etc/passwd.json", "a/../../b.json",
              "C:\\Users\\x.json", "..\\..\\evil.json"],
)  # fmt: skip
def test_an_archive_with_an_entry_escaping_it_is_refused_whole(tmp_path: Path, entry: str) -> None:
    archive = tmp_path / "my_spotify_data.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("Spotify Account Data/StreamingHistory_music_0.json", "[]")
        z.writestr(zipfile.ZipInfo(entry), "[]")
    with pytest.raises(UnsafeArchive, match="points outside the archive"):
        find_export_files([archive])


def test_a_decompression_bomb_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "my_spotify_data.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("Streaming_History_Audio_2023_0.json", b"[" + b" " * (16 << 20) + b"]")
    with pytest.raises(UnsafeArchive, match=r"would inflate [\d,]+× .* like a decompression bomb"):
        find_export_files([archive])


def test_names_that_climb_out_are_told_from_ones_that_do_not() -> None:
    assert not escapes("my_spotify_data/Spotify Account Data/StreamingHistory_music_0.json")
    assert not escapes("odd..name.json")
    assert escapes("x/../../y.json") and escapes("/abs.json") and escapes("D:evil.json")


def test_a_missing_path_or_a_broken_zip_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ImportFileError, match="does not exist"):
        find_export_files([tmp_path / "my_spotify_data.zip"])
    broken = tmp_path / "my_spotify_data.zip"
    broken.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ImportFileError, match="my_spotify_data.zip is not a readable zip archive"):
        find_export_files([broken])


def declared(name: str, size: int, compressed: int) -> zipfile.ZipInfo:
    """An entry as the archive's directory declares it, without its bytes."""
    entry = zipfile.ZipInfo(name)
    entry.file_size, entry.compress_size = size, compressed
    return entry


def test_many_entries_under_a_mebibyte_each_are_refused_as_a_whole() -> None:
    """10,000 entries of 1 MiB less a byte: about 10 GiB from a 10 MB zip."""
    bomb = [declared(f"x/{i}.json", (1 << 20) - 1, 1 << 10) for i in range(10_000)]
    with pytest.raises(UnsafeArchive, match=r"it holds 10,000 entries, more than the 2,000"):
        check_archive("bomb.zip", bomb)
    many = ArchiveLimits(max_entries=20_000)
    with pytest.raises(UnsafeArchive, match=r"would inflate 1,024× .* like a decompression bomb"):
        check_archive("bomb.zip", bomb, many)
    honest = [declared(f"x/{i}.json", (1 << 20) - 1, 100 << 10) for i in range(10_000)]
    with pytest.raises(UnsafeArchive, match=r"would unpack to 9.8 GiB, more than the 8.0 GiB"):
        check_archive("big.zip", honest, many)
    check_archive("big.zip", honest, ArchiveLimits(max_bytes=16 << 30, max_entries=20_000))


def test_small_entries_that_inflate_like_a_bomb_are_refused(tmp_path: Path) -> None:
    archive = tmp_path / "my_spotify_data.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for i in range(3):
            z.writestr(f"Streaming_History_Audio_2023_{i}.json", b"[" + b" " * (512 << 10) + b"]")
    with pytest.raises(UnsafeArchive, match=r"would inflate [\d,]+× .* like a decompression bomb"):
        find_export_files([archive])


def test_a_real_export_is_well_within_the_default_limits(tmp_path: Path) -> None:
    archive = zip_of(FIXTURES / "my_spotify_data", tmp_path / "my_spotify_data.zip")
    assert len(find_export_files([archive], ArchiveLimits())) == 8
    with pytest.raises(UnsafeArchive, match=r"more than the 3 allowed \(WRAPPED_IMPORT_MAX_ARC"):
        find_export_files([archive], ArchiveLimits(max_entries=3))


def test_a_zip_inside_the_zip_is_listed_as_skipped_with_its_reason(tmp_path: Path) -> None:
    inner = zip_of(FIXTURES / "older_export", tmp_path / "older.zip")
    archive = tmp_path / "my_spotify_data.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.write(inner, "my_spotify_data/older.zip")
        z.writestr("my_spotify_data/StreamingHistory_music_0.json", "[]")
    files = find_export_files([archive])
    assert [(f.name, f.skipped) for f in files] == [
        ("my_spotify_data.zip:my_spotify_data/StreamingHistory_music_0.json", None),
        ("my_spotify_data.zip:my_spotify_data/older.zip", NESTED_ZIP),
    ]

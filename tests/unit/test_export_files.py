"""Finding export files in zips and folders, and refusing archives that are not safe."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from weekly_wrapped.errors import ImportFileError
from weekly_wrapped.sources.export_files import UnsafeArchive, escapes, find_export_files

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

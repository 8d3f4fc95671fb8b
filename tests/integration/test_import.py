"""Importing Spotify's privacy export into a real warehouse, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import shutil
import zipfile
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from hashlib import sha256
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select

from tests.factories import play
from tests.factories import snapshot as rows_of
from weekly_wrapped import identity
from weekly_wrapped.imports import ImportSummary, _Loader, import_export
from weekly_wrapped.processing.embedded import EmbeddedProcessor
from weekly_wrapped.sources.export import NULL_METADATA
from weekly_wrapped.sources.export_files import UnsafeArchive
from weekly_wrapped.warehouse import users
from weekly_wrapped.warehouse.queries import YearTotals
from weekly_wrapped.warehouse.schema import (
    bridge_track_artist,
    dim_album,
    dim_artist,
    dim_date,
    dim_track,
    fact_play,
    fact_play_merged,
    import_job,
    quarantine,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "exports"
EXPORT = FIXTURES / "my_spotify_data"
LATER = FIXTURES / "my_spotify_data_later"
EXTENDED = EXPORT / "Spotify Extended Streaming History"
ACCOUNT = EXPORT / "Spotify Account Data"
HISTORY_FILES = [
    EXTENDED / "Streaming_History_Audio_2022-2023_0.json",
    EXTENDED / "Streaming_History_Audio_2023_1.json",
    EXTENDED / "Streaming_History_Video_2023.json",
    ACCOUNT / "StreamingHistory_music_0.json",
    ACCOUNT / "StreamingHistory_podcast_0.json",
    LATER / "Spotify Extended Streaming History" / "Streaming_History_Audio_2023_0.json",
]
BERLIN = "Europe/Berlin"
WAREHOUSE = (
    dim_date, dim_album, dim_artist, dim_track, bridge_track_artist, fact_play, fact_play_merged
)  # fmt: skip


def add_user(engine: Engine, timezone: str = BERLIN) -> int:
    with engine.begin() as conn:
        return users.add_user(conn, name="Ada", timezone=timezone)


def snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    return rows_of(engine, WAREHOUSE)


def count(engine: Engine, table: Any, *where: Any) -> int:
    with engine.connect() as conn:
        query = select(func.count()).select_from(table).where(*where)
        return int(conn.execute(query).scalar_one())


# --- an independent reading of the files, in plain Python ------------------------------


@dataclass(frozen=True)
class FilePlay:
    at: datetime
    performer: str
    title: str
    ms: int
    music: bool
    incognito: bool
    copy: int


def _plays_of(path: Path) -> tuple[list[FilePlay], bool]:
    """The plays a file names, and whether it is account data (minute precision)."""
    rows = json.loads(path.read_text(encoding="utf-8"))
    plays, copies = [], Counter[tuple[Any, ...]]()
    account = "endTime" in rows[0]
    for r in rows:
        if account:
            at = datetime.strptime(r["endTime"], "%Y-%m-%d %H:%M").replace(tzinfo=UTC)
            performer = r.get("artistName") or r.get("podcastName")
            title = r.get("trackName") or r.get("episodeName")
            music, incognito, ms = "trackName" in r, False, r["msPlayed"]
            if (performer, title) == ("Unknown Artist", "Unknown Track"):
                continue
        else:
            at = datetime.fromisoformat(r["ts"])
            performer = (
                r["master_metadata_album_artist_name"]
                or r["episode_show_name"]
                or r.get("audiobook_title")
            )
            title = (
                r["master_metadata_track_name"]
                or r["episode_name"]
                or r.get("audiobook_chapter_title")
            )
            music, incognito, ms = (
                bool(r["master_metadata_track_name"]),
                r["incognito_mode"],
                r["ms_played"],
            )
        if not (performer and title):
            continue
        key = (at, performer, title, ms)
        plays.append(FilePlay(at, performer, title, ms, music, incognito, copies[key]))
        copies[key] += 1
    return plays, account


def plays_in(paths: Iterable[Path]) -> list[FilePlay]:
    """Every distinct play in the files: extended ones by row, then unmatched account ones."""
    extended: set[FilePlay] = set()
    account: list[FilePlay] = []
    for path in paths:
        plays, is_account = _plays_of(path)
        (account.extend if is_account else extended.update)(plays)
    unused = sorted(extended, key=lambda p: p.at)
    added = []
    for a in sorted(account, key=lambda p: p.at):
        same = (p for p in unused if (p.performer, p.title, p.ms) == (a.performer, a.title, a.ms))
        twin = next((p for p in same if abs(p.at - a.at) <= timedelta(seconds=90)), None)
        if twin is None:
            added.append(a)
        else:
            unused.remove(twin)
    return [*extended, *added]


def totals_by_year(plays: list[FilePlay], timezone: str) -> list[YearTotals]:
    zone = ZoneInfo(timezone)
    years: dict[int, list[FilePlay]] = defaultdict(list)
    for p in plays:
        if not p.incognito:
            years[p.at.astimezone(zone).year].append(p)
    result = []
    for year, plays_of_year in sorted(years.items()):
        music = [p for p in plays_of_year if p.music]
        by_artist: Counter[str] = Counter()
        for p in music:
            by_artist[p.performer] += p.ms
        top = min(by_artist, key=lambda a: (-by_artist[a], a)) if by_artist else None
        podcasts = sum(p.ms for p in plays_of_year if not p.music)
        minutes = round(sum(p.ms for p in music) / 60000, 1)
        result.append(YearTotals(year, len(music), minutes, top, round(podcasts / 60000, 1)))
    return result


# --- the tests ---------------------------------------------------------------------------


def test_an_export_imports_with_totals_equal_to_a_plain_reading_of_its_files(
    engine: Engine,
) -> None:
    user = add_user(engine)
    summary = import_export(engine, user, [EXPORT])
    expected = plays_in(HISTORY_FILES[:5])
    assert summary.plays_added == len(expected) == count(engine, fact_play)
    assert summary.years == totals_by_year(expected, BERLIN)
    assert [y.year for y in summary.years] == [2022, 2023]
    assert summary.rows_read == 326
    assert summary.merged == 130, "every account row the extended history has is kept once"
    assert summary.skipped == {NULL_METADATA: 4}
    assert summary.incognito == 2
    assert (summary.first_played, summary.last_played) == (
        min(p.at for p in expected),
        datetime(2023, 8, 18, 19, 12, tzinfo=UTC),
    )
    assert summary.ignored == [
        "Spotify Account Data/Playlist1.json",
        "Spotify Account Data/SearchQueries.json",
        "Spotify Account Data/Userdata.json",
    ]
    assert count(engine, quarantine) == 0


def test_importing_the_same_files_again_changes_nothing(engine: Engine) -> None:
    user = add_user(engine)
    first = import_export(engine, user, [EXPORT])
    before = snapshot(engine)
    again = import_export(engine, user, [EXPORT])
    assert (again.plays_added, again.merged) == (0, 0)
    assert again.duplicates == first.plays_added + first.merged
    assert again.job_id != first.job_id and not again.resumed
    assert snapshot(engine) == before


def test_the_zip_and_its_folder_give_the_same_warehouse(
    backend: str, database_factory: Callable[[str], Engine], tmp_path: Path
) -> None:
    archive = tmp_path / "my_spotify_data.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        for path in sorted(EXPORT.rglob("*")):
            z.write(path, Path("my_spotify_data") / path.relative_to(EXPORT))
    from_folder, from_zip = database_factory(backend), database_factory(backend)
    import_export(from_folder, add_user(from_folder), [EXPORT])
    summary = import_export(from_zip, add_user(from_zip), [archive])
    assert len(summary.imported) == 5 and len(summary.ignored) == 3
    assert snapshot(from_zip) == snapshot(from_folder)


def test_a_later_overlapping_export_adds_only_its_new_plays(engine: Engine) -> None:
    user = add_user(engine)
    import_export(engine, user, [EXPORT])
    later = import_export(engine, user, [LATER])
    new = set(plays_in(HISTORY_FILES[5:])) - set(plays_in(HISTORY_FILES[:5]))
    assert later.plays_added == len(new) == 39 - later.duplicates
    assert later.duplicates > 0
    assert count(engine, fact_play) == len(plays_in(HISTORY_FILES))


def test_rows_of_one_file_identical_in_every_field_stay_distinct_plays(engine: Engine) -> None:
    import_export(engine, add_user(engine), [EXPORT])
    at = datetime(2023, 4, 12, 8, 30, 11, tzinfo=UTC)
    with engine.connect() as conn:
        twins = conn.execute(
            select(fact_play.c.ms_played, fact_play.c.source).where(fact_play.c.played_at_utc == at)
        ).all()
    assert [tuple(t) for t in twins] == [(61234, "export_extended")] * 2


def test_plays_of_one_song_ending_in_one_minute_stay_distinct_in_both_formats(
    engine: Engine,
) -> None:
    import_export(engine, add_user(engine), [EXPORT])
    song = identity.song_key("M83", "Midnight City")
    minute = (datetime(2023, 3, 1, 21, 14, tzinfo=UTC), datetime(2023, 3, 1, 21, 15, tzinfo=UTC))
    with engine.connect() as conn:
        stored = conn.execute(
            select(fact_play.c.play_id, fact_play.c.ms_played, fact_play.c.source)
            .where(fact_play.c.song_key == song, fact_play.c.played_at_utc.between(*minute))
            .order_by(fact_play.c.played_at_utc)
        ).all()
        merged = conn.execute(
            select(fact_play_merged.c.merged_into, fact_play_merged.c.ms_played).where(
                fact_play_merged.c.song_key == song,
                fact_play_merged.c.played_at_utc.between(*minute),
            )
        ).all()
    assert [(ms, source) for _, ms, source in stored] == [
        (4210, "export_extended"), (13890, "export_extended"), (32650, "export_extended")
    ]  # fmt: skip
    assert sorted(tuple(m) for m in merged) == sorted((pid, ms) for pid, ms, _ in stored)


def test_incognito_podcasts_audiobooks_and_video_land_flagged_and_by_kind(engine: Engine) -> None:
    import_export(engine, add_user(engine), [EXPORT])
    with engine.connect() as conn:
        kinds = dict(
            conn.execute(select(fact_play.c.kind, func.count()).group_by(fact_play.c.kind)).all()
        )
    assert kinds["episode"] == 3 and kinds["audiobook"] == 1
    assert count(engine, fact_play, fact_play.c.incognito.is_(True)) == 2


@pytest.mark.parametrize("api_first", [True, False])
def test_plays_already_polled_from_the_api_are_kept_once_and_the_export_wins(
    backend: str, database_factory: Callable[[str], Engine], api_first: bool
) -> None:
    engine = database_factory(backend)
    user = add_user(engine)
    # The API saw the Hoppípolla play that the export has at 2023-06-24 01:12:09, 4 s earlier.
    polled = [
        play(user, datetime(2023, 6, 24, 1, 12, 5, tzinfo=UTC), source="api", ms_played=None,
             artist="Beyoncé", title="CUFF IT", track_id="5Vu2hM0LbiROgGzqmpuv2Y"),
        play(user, datetime(2023, 9, 30, 12, 0, tzinfo=UTC), source="api", ms_played=None,
             artist="Björk", title="Jóga"),
    ]  # fmt: skip
    steps = [
        lambda: EmbeddedProcessor(engine).process(polled),
        lambda: import_export(engine, user, [EXPORT]),
    ]
    for step in steps if api_first else reversed(steps):
        step()
    with engine.connect() as conn:
        stored_sources = Counter(conn.execute(select(fact_play.c.source)).scalars())
        merged = conn.execute(
            select(fact_play_merged).where(fact_play_merged.c.source == "api")
        ).all()
    assert stored_sources["api"] == 1, "only the play the export lacks stays an API play"
    assert [m.play_id for m in merged] == [polled[0].event_id]
    assert EmbeddedProcessor(engine).process(polled).duplicates == 2, "polling again adds nothing"
    reference = database_factory(backend)
    ref_user = add_user(reference)
    import_export(reference, ref_user, [EXPORT])
    EmbeddedProcessor(reference).process(polled)
    assert snapshot(engine) == snapshot(reference), "the order of API and export does not matter"


def test_a_damaged_file_is_reported_and_leaves_nothing_while_the_others_import(
    engine: Engine, tmp_path: Path
) -> None:
    export = tmp_path / "export"
    shutil.copytree(FIXTURES / "damaged_export", export)
    user = add_user(engine)
    summary = import_export(engine, user, [export])
    (failed,) = summary.failed
    assert failed.name == "Streaming_History_Audio_2021_1.json"
    assert failed.error is not None
    assert failed.error.startswith("Streaming_History_Audio_2021_1.json is not valid JSON at byte ")
    assert "(line " in failed.error and "cut short" in failed.error
    good = plays_in([export / "Streaming_History_Audio_2021_0.json"])
    assert summary.plays_added == len(good) == count(engine, fact_play)
    assert count(engine, quarantine) == 0
    with engine.connect() as conn:
        job = conn.execute(select(import_job)).one()
    assert (job.status, job.plays_added) == ("partial", len(good))
    assert "Streaming_History_Audio_2021_1.json" in job.error

    repaired = json.loads((export / "Streaming_History_Audio_2021_0.json").read_text())
    for row in repaired:
        row["ts"] = row["ts"].replace("2021-01", "2021-03")
    (export / "Streaming_History_Audio_2021_1.json").write_text(json.dumps(repaired, indent=4))
    rerun = import_export(engine, user, [export])
    assert (rerun.job_id, rerun.resumed, rerun.failed) == (job.job_id, True, [])
    assert rerun.plays_added == 2 * len(good) == count(engine, fact_play)


def test_bad_rows_imported_again_and_again_are_quarantined_once_and_big_ones_cut(
    engine: Engine, tmp_path: Path
) -> None:
    rows = json.loads(HISTORY_FILES[0].read_text(encoding="utf-8"))[:20]
    rows[3]["ts"] = None
    rows[7]["ms_played"] = "lots"
    rows[11] |= {"ts": "2099-01-01T00:00:00Z"}  # in the future: refused by the processor
    rows[15] |= {"ts": None, "master_metadata_track_name": "é" * (100 << 10)}
    (tmp_path / "Streaming_History_Audio_2023_0.json").write_text(json.dumps(rows))
    user = add_user(engine)
    for _ in range(5):
        summary = import_export(engine, user, [tmp_path])
        assert sum(summary.skipped.values()) == 4
    with engine.connect() as conn:
        kept = conn.execute(select(quarantine)).all()
    stages = sorted((q.stage, q.user_key) for q in kept)
    assert stages == [("import", user)] * 3 + [("processor", user)]
    whole = orjson.dumps({k: v for k, v in rows[15].items() if k != "ip_addr"})
    big = next(q for q in kept if q.payload_bytes > 64 << 10)
    assert (big.payload_bytes, big.payload_sha256) == (len(whole), sha256(whole).hexdigest())
    assert len(big.payload.encode()) <= 64 << 10 and whole.decode().startswith(big.payload)
    other = add_user(engine)
    import_export(engine, other, [tmp_path])
    assert count(engine, quarantine, quarantine.c.user_key == other) == 4, "each user's own"


def test_a_file_that_is_not_json_is_reported_at_its_first_byte(
    engine: Engine, tmp_path: Path
) -> None:
    shutil.copy(HISTORY_FILES[0], tmp_path / HISTORY_FILES[0].name)
    (tmp_path / "Streaming_History_Audio_2024_1.json").write_text("<html>Access Denied</html>")
    summary = import_export(engine, add_user(engine), [tmp_path])
    assert [f.error for f in summary.failed] == [
        "Streaming_History_Audio_2024_1.json is not valid JSON at byte 0 (line 1, column 1): "
        "it does not start with '['"
    ]
    assert summary.plays_added == count(engine, fact_play) > 0


@pytest.mark.parametrize("kind", ["traversal", "bomb"])
def test_an_unsafe_zip_is_refused_before_anything_is_read(
    engine: Engine, tmp_path: Path, kind: str
) -> None:
    archive = tmp_path / "my_spotify_data.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        z.write(HISTORY_FILES[0], "my_spotify_data/Streaming_History_Audio_2022-2023_0.json")
        if kind == "traversal":
            z.writestr("my_spotify_data/../../.bashrc.json", "[]")
        else:
            z.writestr("my_spotify_data/Streaming_History_Audio_2024_0.json", b" " * (32 << 20))
    user = add_user(engine)
    with pytest.raises(UnsafeArchive, match="refusing my_spotify_data.zip"):
        import_export(engine, user, [archive])
    assert count(engine, fact_play) == 0
    with engine.connect() as conn:
        job = conn.execute(select(import_job)).one()
    assert job.status == "failed" and "refusing my_spotify_data.zip" in job.error


def test_an_interrupted_import_run_again_finishes_without_counting_twice(
    backend: str, database_factory: Callable[[str], Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    clean = database_factory(backend)
    expected = import_export(clean, add_user(clean), [EXPORT])

    engine = database_factory(backend)
    user = add_user(engine)
    write = _Loader._write
    calls = []

    def crash_in_the_fourth_file(self: _Loader, *args: Any) -> None:
        calls.append(args)
        if len(calls) == 4:
            raise KeyboardInterrupt
        write(self, *args)

    monkeypatch.setattr(_Loader, "_write", crash_in_the_fourth_file)
    with pytest.raises(KeyboardInterrupt):
        import_export(engine, user, [EXPORT])
    monkeypatch.setattr(_Loader, "_write", write)
    with engine.connect() as conn:
        assert conn.execute(select(import_job.c.status)).scalar_one() == "running"

    finished = import_export(engine, user, [EXPORT])
    assert finished.resumed
    assert _totals(finished) == _totals(expected)
    assert snapshot(engine) == snapshot(clean)
    with engine.connect() as conn:
        job = conn.execute(select(import_job)).one()
    assert (job.status, job.rows_read, job.plays_added, job.files_total) == (
        "done", expected.rows_read, expected.plays_added, 5
    )  # fmt: skip


def _totals(summary: ImportSummary) -> tuple[Any, ...]:
    return (
        summary.rows_read, summary.plays_added, summary.duplicates, summary.merged,
        summary.skipped, summary.years,
    )  # fmt: skip


def test_an_older_export_with_endsong_files_imports_and_pairs_its_formats(engine: Engine) -> None:
    summary = import_export(engine, add_user(engine), [FIXTURES / "older_export"])
    old_files = sorted((FIXTURES / "older_export" / "MyData").glob("*.json"))
    assert summary.plays_added == len(plays_in(old_files)) == 18
    assert summary.merged == 18


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(order=st.permutations(HISTORY_FILES), cuts=st.lists(st.integers(1, 5), max_size=3))
def test_the_same_files_in_any_order_and_any_number_of_runs_give_the_same_warehouse(
    database_factory: Callable[[str], Engine], backend: str, order: list[Path], cuts: list[int]
) -> None:
    if backend not in _ONE_RUN:
        reference = database_factory(backend)
        import_export(reference, add_user(reference), [EXPORT, LATER])
        _ONE_RUN[backend] = snapshot(reference)
    engine = database_factory(backend)
    user = add_user(engine)
    bounds = [0, *sorted(set(cuts)), len(order)]
    added = 0
    for start, end in zip(bounds, bounds[1:], strict=False):
        if start < end:
            added += import_export(engine, user, order[start:end]).plays_added
    assert snapshot(engine) == _ONE_RUN[backend]
    assert added == len(_ONE_RUN[backend]["fact_play"])


_ONE_RUN: dict[str, dict[str, list[tuple[Any, ...]]]] = {}
"""The warehouse after importing everything in one run, per backend."""

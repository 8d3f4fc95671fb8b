"""Import throughput: a generated extended export, against the time to merely parse its JSON.

    python benchmarks/bench_import.py [--plays 1000000] [--files 10] [--no-postgres]

`--plays` defaults to WRAPPED_BENCH_PLAYS (else 1M): iterate at 100k, report at 1M.

Writes an extended streaming history of `--plays` plays in `--files` files, shaped
like Spotify's (pretty-printed, about 700 bytes a row, podcasts, null-metadata and
incognito rows), then measures, each in a fresh process so peak RSS is its own:

- the baseline: parsing every file with orjson and nothing else;
- a first import into an empty warehouse, on SQLite and on PostgreSQL;
- a second import of the same files, which must find every play already there;
- a profile: the import's stages timed one by one over every batch, in µs per play,
  into a warehouse of its own. Its write stage is the database-writes-alone floor.

Ratios are against the baseline measured in the same run. PostgreSQL comes from
WRAPPED_BENCH_PG_URL or `.pg/url` (`make bench` starts one).
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import random
import resource
import string
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from common import fresh_postgres_database, postgres_url
from stages import stage_table

ROOT = Path(__file__).resolve().parents[1]
START = datetime(2014, 3, 2, tzinfo=UTC)
_BASE62 = string.digits + string.ascii_letters


# --- a lifetime of listening ------------------------------------------------------------


def _catalog(rng: random.Random, artists: int = 4000) -> list[tuple[str, str, str, str, int]]:
    """(artist, track, album, uri, duration) for a few tracks of each artist."""
    words = ["Velvet", "Paper", "Neon", "Hollow", "Golden", "Quiet", "Lunar", "Amber", "Café",
             "Fjörd", "Mañana", "夜", "Ólafur", "Sigur", "Rós", "Salt", "Tides", "Ghosts"]  # fmt: skip
    tracks = []
    for a in range(artists):
        artist = f"{rng.choice(words)} {rng.choice(words)} {a}"
        album = f"{rng.choice(words)} {rng.choice(words)}"
        for t in range(rng.randint(2, 8)):
            uri = "spotify:track:" + "".join(rng.choices(_BASE62, k=22))
            title = f"{rng.choice(words)} {rng.choice(words)} {t}"
            tracks.append((artist, title, album, uri, rng.randint(90_000, 420_000)))
    return tracks


def _row(rng: random.Random, at: datetime, track: tuple[str, str, str, str, int]) -> dict[str, Any]:
    artist, title, album, uri, duration = track
    skipped = rng.random() < 0.25
    ms = rng.randint(0, 29_000) if skipped else duration - rng.randint(0, 500)
    null = rng.random() < 0.004
    return {
        "ts": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "platform": rng.choice(("android", "ios", "osx", "windows")),
        "ms_played": ms,
        "conn_country": rng.choice(("DE", "SE", "GB", "US")),
        "ip_addr": f"198.51.100.{rng.randrange(1, 255)}",
        "master_metadata_track_name": None if null else title,
        "master_metadata_album_artist_name": None if null else artist,
        "master_metadata_album_album_name": None if null else album,
        "spotify_track_uri": None if null else uri,
        "episode_name": None,
        "episode_show_name": None,
        "spotify_episode_uri": None,
        "audiobook_title": None,
        "audiobook_uri": None,
        "audiobook_chapter_uri": None,
        "audiobook_chapter_title": None,
        "reason_start": "trackdone",
        "reason_end": "fwdbtn" if skipped else "trackdone",
        "shuffle": rng.random() < 0.4,
        "skipped": skipped,
        "offline": False,
        "offline_timestamp": None,
        "incognito_mode": rng.random() < 0.002,
    }


def _episode(rng: random.Random, at: datetime) -> dict[str, Any]:
    row = _row(rng, at, ("", "", "", "", 0))
    show = rng.choice(("The Daily", "Lage der Nation", "Huberman Lab"))
    row.update(
        master_metadata_track_name=None, master_metadata_album_artist_name=None,
        master_metadata_album_album_name=None, spotify_track_uri=None,
        episode_name=f"{show} #{rng.randrange(1, 900)}", episode_show_name=show,
        spotify_episode_uri="spotify:episode:" + "".join(rng.choices(_BASE62, k=22)),
        ms_played=rng.randint(60_000, 3_600_000),
    )  # fmt: skip
    return row


def write_export(folder: Path, plays: int, files: int, seed: int = 7) -> list[Path]:
    """An extended history of `plays` plays, split in time order over `files` files."""
    rng = random.Random(seed)
    catalog = _catalog(rng)
    weights = [1 / (i + 1) ** 0.9 for i in range(len(catalog))]
    folder.mkdir(parents=True, exist_ok=True)
    at, paths, per_file = START, [], -(-plays // files)
    for number in range(files):
        count = min(per_file, plays - number * per_file)
        picks = rng.choices(catalog, weights, k=count)
        rows = []
        for track in picks:
            at += timedelta(seconds=rng.randint(30, 400))
            rows.append(_episode(rng, at) if rng.random() < 0.02 else _row(rng, at, track))
        path = folder / f"Streaming_History_Audio_{number:02d}.json"
        path.write_bytes(orjson.dumps(rows, option=orjson.OPT_INDENT_2))
        paths.append(path)
    return paths


# --- measurements, each in its own process ----------------------------------------------


def peak_rss_mb() -> float:
    """This process's peak resident set size (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure_parse(folder: Path) -> dict[str, Any]:
    started = time.perf_counter()
    rows = 0
    for path in sorted(folder.glob("*.json")):
        rows += len(orjson.loads(path.read_bytes()))
    return {"seconds": time.perf_counter() - started, "rows": rows, "rss_mb": peak_rss_mb()}


def measure_import(folder: Path, url: str) -> dict[str, Any]:
    from weekly_wrapped.imports import import_export
    from weekly_wrapped.warehouse import db

    engine = db.connect(url)
    started = time.perf_counter()
    summary = import_export(engine, 1, [folder])
    seconds = time.perf_counter() - started
    assert not summary.failed, summary.failed
    return {
        "seconds": seconds,
        "rows": summary.rows_read,
        "added": summary.plays_added,
        "duplicates": summary.duplicates,
        "rss_mb": peak_rss_mb(),
    }


def measure_profile(folder: Path, url: str) -> dict[str, Any]:
    """The import's stages, each timed over every batch, as the importer runs them."""
    from weekly_wrapped import identity
    from weekly_wrapped.imports import COMMIT_ROWS
    from weekly_wrapped.processing.embedded import EmbeddedProcessor, cyclic_gc_paused
    from weekly_wrapped.processing.processor import StageTimes
    from weekly_wrapped.sources.export import ExportRows, sniff
    from weekly_wrapped.sources.json_array import JsonArrayReader
    from weekly_wrapped.warehouse import db, queries

    engine = db.connect(url)
    times, handoff = StageTimes(), StageTimes()
    processor = EmbeddedProcessor(engine, times=times)
    rows = 0
    for path in sorted(folder.glob("*.json")):
        with times("parse"), path.open("rb") as stream:
            elements = [row for part in JsonArrayReader(stream, path.name) for row in part]
        rows += len(elements)
        export_format = sniff(elements[0])
        assert export_format is not None
        export = ExportRows(export_format, 1)
        with cyclic_gc_paused(), engine.connect() as conn:
            for start in range(0, len(elements), 5000):
                with times("row → event"):
                    candidates = export.candidates(elements[start : start + 5000])
                with times("event id"):  # computed again alone, then taken off row → event
                    for c in candidates:
                        listen = c.listen
                        identity.event_id(
                            1, export.source, listen.played_at, listen.song_key, listen.ms_played
                        )
                with times("dedupe"):
                    known = queries.known_play_ids(conn, [c.event_id for c in candidates])
                    fresh = [c for c in candidates if c.event_id not in known]
                with times("validation"):
                    events = export.events(fresh)
                with handoff("send"):  # what a worker process would pay to hand them over
                    sent = pickle.dumps(events, protocol=pickle.HIGHEST_PROTOCOL)
                with handoff("receive"):  # ... and what the writer would pay to take them
                    pickle.loads(sent)  # noqa: S301 - our own bytes, just made
                processor.write_batch(conn, events)
                if (start + 5000) % COMMIT_ROWS == 0 or start + 5000 >= len(elements):
                    with times("write"):
                        conn.commit()
    seconds, cpu = dict(times.seconds), dict(times.cpu_seconds)
    seconds["row → event"] -= seconds["event id"]
    cpu["row → event"] -= cpu["event id"]
    return {
        "seconds": seconds,
        "cpu": cpu,
        "handoff": dict(handoff.cpu_seconds),
        "rows": rows,
        "rss_mb": peak_rss_mb(),
    }


def in_child(*args: str) -> dict[str, Any]:
    """Run one measurement in a fresh interpreter and read its JSON answer."""
    done = subprocess.run(
        [sys.executable, __file__, "--measure", *args], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr)
    answer: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return answer


def fresh_warehouse(backend: str, folder: Path) -> str:
    from weekly_wrapped.warehouse import db, users

    if backend == "SQLite":
        url = f"sqlite:///{folder / 'bench-import.db'}"
        Path(folder / "bench-import.db").unlink(missing_ok=True)
    else:
        url = _postgres_database()
    engine = db.connect(url)
    db.upgrade(engine)
    with engine.begin() as conn:
        users.add_user(conn, name="Benchmark", timezone="Europe/Berlin")
    engine.dispose()
    return url


def _postgres_database() -> str:
    admin_url = postgres_url()
    assert admin_url is not None
    return fresh_postgres_database(admin_url, "wrapped_bench_import")


# --- the report -------------------------------------------------------------------------


@dataclass
class Run:
    backend: str
    what: str
    result: dict[str, Any]

    @property
    def rate(self) -> float:
        return float(self.result["rows"]) / float(self.result["seconds"])


def report(
    parse: dict[str, Any], runs: list[Run], profiles: dict[str, dict[str, Any]], megabytes: float
) -> None:
    print(
        f"\n{parse['rows']:,} rows in {megabytes:,.0f} MB of JSON; "
        f"parsing alone: {parse['seconds']:.2f} s ({parse['rows'] / parse['seconds']:,.0f} rows/s, "
        f"peak RSS {parse['rss_mb']:,.0f} MB)\n"
    )
    print(
        "| backend | run | rows | plays added | seconds | rows/s | peak RSS MB "
        "| × parse time | × writes alone |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for run in runs:
        r = run.result
        floor = profiles[run.backend]
        writes = floor["seconds"]["write"] / floor["rows"] * r["rows"]
        print(
            f"| {run.backend} | {run.what} | {r['rows']:,} | {r['added']:,} | {r['seconds']:.2f} | "
            f"{run.rate:,.0f} | {r['rss_mb']:,.0f} | {r['seconds'] / parse['seconds']:.1f}× | "
            f"{r['seconds'] / writes:.1f}× |"
        )
    print()
    for backend, profile in profiles.items():
        writes = profile["rows"] / profile["seconds"]["write"]
        print(f"{backend}, stage by stage (database writes alone: {writes:,.0f} plays/s):\n")
        print(stage_table(profile["seconds"], profile["cpu"], profile["rows"]) + "\n")
        print(worker_bound(profile) + "\n")
    for backend in dict.fromkeys(run.backend for run in runs):
        first, second = (r.result["seconds"] for r in runs if r.backend == backend)
        print(f"{backend}: the second import is {first / second:.1f}× faster than the first")


WORKER_STAGES = ("parse", "row → event", "event id", "validation")
"""What a worker process could do while the writer writes: all that needs no database."""


def worker_bound(profile: dict[str, Any]) -> str:
    """How much faster a worker process could make the import, at best, from CPU times.

    The worker takes `WORKER_STAGES` off the writer, but the writer must then take
    the events back (unpickling them); the import runs at the pace of the busier side.
    """
    cpu, handoff, rows = profile["cpu"], profile["handoff"], profile["rows"]
    total = sum(cpu.values())
    moved = sum(cpu.get(stage, 0.0) for stage in WORKER_STAGES)
    worker = moved + handoff["send"]
    writer = total - moved + handoff["receive"]
    per_play = 1e6 / rows
    return (
        f"A worker process for {', '.join(WORKER_STAGES)}: it would spend "
        f"{worker * per_play:.0f} CPU µs/play (with {handoff['send'] * per_play:.0f} to pickle), "
        f"the writer {writer * per_play:.0f} (with {handoff['receive'] * per_play:.0f} to "
        f"unpickle), against {total * per_play:.0f} today: at best "
        f"{total / max(worker, writer):.2f}× faster on two free cores."
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--plays", type=int, default=int(os.environ.get("WRAPPED_BENCH_PLAYS", 1_000_000))
    )
    parser.add_argument("--files", type=int, default=10)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--measure", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        kind, folder, *url = args.measure
        if kind == "parse":
            measured = measure_parse(Path(folder))
        elif kind == "profile":
            measured = measure_profile(Path(folder), url[0])
        else:
            measured = measure_import(Path(folder), url[0])
        print(json.dumps(measured))
        return 0

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "export"
        started = time.perf_counter()
        paths = write_export(folder, args.plays, args.files)
        megabytes = sum(p.stat().st_size for p in paths) / 1e6
        print(
            f"wrote {args.plays:,} plays in {len(paths)} files in {time.perf_counter() - started:.0f} s"
        )
        parse = in_child("parse", str(folder))
        backends = ["SQLite"]
        if not args.no_postgres and postgres_url():
            backends.append("PostgreSQL")
        runs: list[Run] = []
        profiles: dict[str, dict[str, Any]] = {}
        for backend in backends:
            url = fresh_warehouse(backend, Path(tmp))
            for what in ("first import", "second import"):
                runs.append(Run(backend, what, in_child("import", str(folder), url)))
                print(f"{backend} {what}: {runs[-1].result['seconds']:.1f} s", file=sys.stderr)
            profiles[backend] = in_child(
                "profile", str(folder), fresh_warehouse(backend, Path(tmp))
            )
        report(parse, runs, profiles, megabytes)
    return 0


if __name__ == "__main__":
    sys.exit(main())

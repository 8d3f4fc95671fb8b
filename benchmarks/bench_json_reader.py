"""Reading export JSON: crafted files against real-shaped exports of the same size; goal ≤ 3×.

    python benchmarks/bench_json_reader.py [--runs 5] [--sizes 1 4 16]

For each size (MiB) it writes, to a temporary folder:

- **export**: an extended streaming history shaped like Spotify's (pretty-printed,
  about 700 bytes a row), the baseline;
- **braces**: one row whose track name is ``},`` over and over, the file that once
  took minutes a MiB because every ``},`` was a place the reader tried to cut;
- **backslashes** and **nesting**, for information: one string of escaped quotes
  and backslashes, and an array nested 100,000 deep (refused, as it must be).

Each file is read through the importer's reader, as the import does, at its
default chunk size (1 MiB, so a 1 MiB file is a single chunk) and at 64 KiB
chunks (more cuts, and more chunk edges inside the crafted strings), best of
`--runs`. Ratios are against the export of the same size in the same run. Time
grows linearly with size where the milliseconds per MiB stay about the same
from one size to the next.
"""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench_import import write_export
from weekly_wrapped.sources.json_array import CHUNK_BYTES, BrokenJson, JsonArrayReader

MiB = 1 << 20
ROW_BYTES = 700
HEAD = b'[{"ts": "2023-01-01T00:00:00Z", "ms_played": 1, "master_metadata_track_name": "'


def export(folder: Path, size: int) -> Path:
    """A real-shaped extended history of about `size` bytes."""
    (path,) = write_export(folder / f"export-{size}", size // ROW_BYTES, 1)
    return path


def one_string(pattern: bytes) -> Callable[[Path, int], Path]:
    """A writer of files of `size` bytes: one row whose track name repeats `pattern`."""

    def write(folder: Path, size: int) -> Path:
        fill = size - len(HEAD) - 3
        path = folder / f"{pattern.hex()}-{size}.json"
        path.write_bytes(HEAD + pattern * (fill // len(pattern)) + b'"}]')
        return path

    return write


def nesting(folder: Path, size: int) -> Path:
    depth = (size - len(HEAD)) // 2
    path = folder / f"nesting-{size}.json"
    path.write_bytes(b'[{"ts": "2023-01-01T00:00:00Z", "a": ' + b"[" * depth + b"]" * depth + b"}]")
    return path


KINDS: dict[str, Callable[[Path, int], Path]] = {
    "export": export,
    "braces": one_string(b"},"),
    "backslashes": one_string(b'\\\\\\"'),
    "nesting": nesting,
}


def read_seconds(path: Path, chunk: int, runs: int) -> float:
    """Best time to read every element of `path`, the cyclic GC paused as the import does."""
    timings = []
    for _ in range(runs):
        gc.collect()
        gc.disable()
        started = time.perf_counter()
        try:
            with path.open("rb") as stream:
                for _batch in JsonArrayReader(stream, path.name, chunk):
                    pass
        except BrokenJson:
            pass  # the nesting file is refused; how fast is what counts
        finally:
            gc.enable()
        timings.append(time.perf_counter() - started)
    return min(timings)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 4, 16], help="sizes in MiB")
    args = parser.parse_args()
    seconds: dict[tuple[str, int, int], float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            for kind, write in KINDS.items():
                path = write(Path(tmp), size * MiB)
                for chunk in (CHUNK_BYTES, 64 << 10):
                    seconds[kind, size, chunk] = read_seconds(path, chunk, args.runs)
    return report(seconds)


def report(seconds: dict[tuple[str, int, int], float]) -> int:
    print("| file | MiB | chunk | ms | ms per MiB | × export |")
    print("|---|---:|---:|---:|---:|---:|")
    for (kind, size, chunk), took in sorted(seconds.items(), key=lambda i: (i[0][0], -i[0][2])):
        baseline = seconds["export", size, chunk]
        print(
            f"| {kind} | {size} | {chunk >> 10} KiB | {took * 1000:,.1f} | "
            f"{took * 1000 / size:,.1f} | {took / baseline:.2f}× |"
        )
    worst = max(seconds["braces", s, c] / seconds["export", s, c] for _, s, c in seconds)
    verdict = "meets" if worst <= 3 else "MISSES"
    print(
        f"\ngoal: a file of braces reads within 3× an export of its size: {verdict} ({worst:.2f}×)"
    )
    return 0 if worst <= 3 else 1


if __name__ == "__main__":
    sys.exit(main())

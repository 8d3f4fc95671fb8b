"""How fast `wrapped` starts: `--help` within 1.5× and `users list` within 3× of a bare import.

    python benchmarks/bench_cli.py [--runs 15]

Each command runs as a person runs it: a new Python process, timed from start to
exit. `users list` reads an empty SQLite warehouse in a temporary folder, made
by `wrapped init` first (not timed). The baseline is the interpreter importing
what any Typer CLI with our settings needs, `python -c "import typer, rich,
pydantic_settings"`. The commands take turns, run after run, so a busy moment
of the machine slows them all alike; each figure is the median of `--runs`, after
one untimed run each to warm the disk cache.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

WRAPPED = [sys.executable, "-m", "weekly_wrapped.cli"]
BASELINE = "import typer, rich, pydantic_settings"
COMMANDS: dict[str, tuple[list[str], float | None]] = {
    f'python -c "{BASELINE}"': ([sys.executable, "-c", BASELINE], None),
    "wrapped --help": ([*WRAPPED, "--help"], 1.5),
    "wrapped users list": ([*WRAPPED, "users", "list"], 3.0),
}
"""Each command line, and the most it may take as a multiple of the baseline."""


def run_seconds(argv: list[str], env: Mapping[str, str]) -> float:
    """Wall time of one run of `argv`, which must succeed."""
    started = time.perf_counter()
    subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


def measure(runs: int, env: Mapping[str, str]) -> dict[str, float]:
    """The median seconds of each command, the commands taking turns."""
    seconds: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for argv, _ in COMMANDS.values():
        run_seconds(argv, env)
    for _ in range(runs):
        for name, (argv, _) in COMMANDS.items():
            seconds[name].append(run_seconds(argv, env))
    return {name: statistics.median(times) for name, times in seconds.items()}


def report(medians: dict[str, float], runs: int) -> int:
    """Print the table and the verdicts; 1 if a goal is missed."""
    baseline = next(iter(medians.values()))
    print(f"median of {runs} runs, Python {sys.version.split()[0]}")
    print("| command | ms | × baseline | goal |")
    print("|---|---:|---:|---|")
    missed = 0
    for name, (_, goal) in COMMANDS.items():
        ratio = medians[name] / baseline
        verdict = "baseline"
        if goal is not None:
            verdict = f"≤ {goal}×: {'meets' if ratio <= goal else 'MISSES'}"
        missed += goal is not None and ratio > goal
        print(f"| `{name}` | {medians[name] * 1000:,.0f} | {ratio:.2f}× | {verdict} |")
    return 1 if missed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "WRAPPED_DATA_DIR": tmp,
            "WRAPPED_DATABASE_URL": f"sqlite:///{Path(tmp) / 'wrapped.db'}",
        }
        subprocess.run([*WRAPPED, "init"], env=env, stdout=subprocess.DEVNULL, check=True)
        medians = measure(args.runs, env)
    return report(medians, args.runs)


if __name__ == "__main__":
    sys.exit(main())

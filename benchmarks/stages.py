"""The per-stage profile both write benchmarks print: µs per play for each stage."""

from __future__ import annotations

from collections.abc import Mapping

STAGES = ("parse", "row → event", "event id", "validation", "transform", "dedupe", "write")
"""In pipeline order; a stage a benchmark does not run is left out of its table."""


def stage_table(seconds: Mapping[str, float], cpu: Mapping[str, float], plays: int) -> str:
    """A markdown table of wall and CPU µs per play and share of the wall time, per stage.

    CPU time is this process's: steadier than wall time on a busy machine, but
    without the database server's work.
    """
    total = sum(seconds.values())
    lines = ["| stage | µs/play | CPU µs/play | share |", "|---|---:|---:|---:|"]
    for stage in (*STAGES, *(s for s in seconds if s not in STAGES)):
        if stage in seconds:
            share = seconds[stage] / total if total else 0.0
            lines.append(
                f"| {stage} | {seconds[stage] / plays * 1e6:.1f} | "
                f"{cpu.get(stage, 0.0) / plays * 1e6:.1f} | {share:.0%} |"
            )
    lines.append(
        f"| **total** | **{total / plays * 1e6:.1f}** | **{sum(cpu.values()) / plays * 1e6:.1f}** | |"
    )
    return "\n".join(lines)

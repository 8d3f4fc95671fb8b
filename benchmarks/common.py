"""What the benchmarks share: where the PostgreSQL to measure against is."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def postgres_url() -> str | None:
    """WRAPPED_BENCH_PG_URL, or the server scripts/pg-start runs (`make bench` starts one)."""
    url = os.environ.get("WRAPPED_BENCH_PG_URL")
    state = ROOT / ".pg" / "url"
    return url or (state.read_text().strip() if state.exists() else None)

"""What the benchmarks share: where the PostgreSQL to measure against is."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[1]


def load_average() -> str:
    """The machine's 1, 5 and 15 minute load averages, to print beside a figure."""
    return " ".join(f"{n:.2f}" for n in os.getloadavg())


def postgres_url() -> str | None:
    """WRAPPED_BENCH_PG_URL, or the server scripts/pg-start runs (`make bench` starts one)."""
    url = os.environ.get("WRAPPED_BENCH_PG_URL")
    state = ROOT / ".pg" / "url"
    return url or (state.read_text().strip() if state.exists() else None)


def fresh_postgres_database(admin_url: str, name: str) -> str:
    """Drop and create database `name` on the server of `admin_url`; return its URL."""
    admin = create_engine(
        admin_url.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        conn.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    return admin_url.rsplit("/", 1)[0] + f"/{name}"

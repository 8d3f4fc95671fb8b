"""The orchestrator's entry points (`scheduler.batches`): recaps due in batches, each sent once.

The Airflow DAG runs `due_batches` hourly from Sunday to Tuesday UTC (cron
``0 * * * 0-2``) and sends each batch in a task of its own: every timezone's Monday
08:00 must fall in that window, and each recap must go out once however often a
batch is retried.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, update

from weekly_wrapped.config import Settings, load_settings
from weekly_wrapped.scheduler.batches import due_batches, send_batch
from weekly_wrapped.warehouse.schema import dim_user
from weekly_wrapped.warehouse.users import add_user

ZONES = ["Pacific/Kiritimati", "Asia/Tokyo", "Europe/Berlin", "America/New_York",
         "Pacific/Pago_Pago"]  # fmt: skip
"""UTC+14 to UTC-11: Monday 08:00 runs from Sunday 18:00 to Monday 19:00 UTC."""


@pytest.fixture
def settings(engine: Engine, tmp_path: Path) -> Settings:
    return load_settings(
        data_dir=tmp_path,
        database_url=engine.url.render_as_string(hide_password=False),
        secret_key="x" * 43 + "=",
        send_at="08:00",
        email="outbox",
        writer="offline",
    )


@pytest.fixture
def people(engine: Engine) -> list[int]:
    with engine.begin() as conn:
        keys = [
            add_user(conn, name=f"user{i}", email=f"user{i}@example.org", timezone=zone)
            for i, zone in enumerate(ZONES)
        ]
        # They joined after the Monday before the window, so only its own week is due.
        conn.execute(update(dim_user).values(created_at=datetime(2025, 10, 28, tzinfo=UTC)))
    return keys


def dag_runs(start: datetime, days: int) -> list[datetime]:
    """The hours `0 * * * 0-2` fires from `start` (cron's Sunday is 0; Python's is 6)."""
    hours = (start + timedelta(hours=h) for h in range(days * 24))
    return [h for h in hours if h.weekday() in (6, 0, 1)]


def test_each_timezone_gets_one_recap_in_the_dag_window(
    settings: Settings, people: list[int]
) -> None:
    sent: dict[int, list[str]] = {key: [] for key in people}
    batch_sizes: list[int] = []
    for now in dag_runs(datetime(2025, 11, 2, tzinfo=UTC), days=7):  # a whole week
        for batch in due_batches(size=2, now=now, settings=settings):
            batch_sizes.append(len(batch))
            assert send_batch(batch, settings=settings) == {"sent": len(batch)}
            assert send_batch(batch, settings=settings) == {"skipped": len(batch)}  # a retry
            for user, week in batch:
                sent[user].append(week)
    assert sent == {key: ["2025-10-27"] for key in people}
    assert max(batch_sizes) <= 2


def test_a_batch_holds_at_least_one_user(settings: Settings) -> None:
    with pytest.raises(ValueError, match="at least one"):
        due_batches(size=0, settings=settings)

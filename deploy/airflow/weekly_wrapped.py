"""Weekly Wrapped on Apache Airflow 3: an hourly poll, and the weekly recaps mapped over batches.

Copy this file into the DAGs folder of an Airflow whose workers have the package
installed (`pip install 'weekly-wrapped[postgres,kafka,llm,web]'`) and the WRAPPED_*
settings in their environment. Run `wrapped serve --no-scheduler` beside it (or no
web at all): Airflow does what the built-in scheduler would.

- `weekly_wrapped_poll`, every hour: one polling round of every connected user.
- `weekly_wrapped_recaps`, hourly from Sunday to Tuesday (UTC): each user's recap is due
  on Monday at WRAPPED_SEND_AT in their own timezone, which falls somewhere in that
  window for every timezone. Each run lists the recaps due now in batches
  (`due_batches`) and sends every batch in a task of its own (`send_batch.expand`), so a
  failing batch is retried alone. The delivery ledger sends each recap once, whatever
  is retried; runs with nothing due map to no task at all.

The tasks call the package's functions (`weekly_wrapped.scheduler.batches`), never a
shell. Airflow 3 has no `sla`; each DAG has a Deadline Alert instead, whose callback
logs an error line to alert on (docs/operations.md).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import DeadlineAlert, DeadlineReference, SyncCallback, dag, task

BATCH_SIZE = 50
"""Users per mapped task: enough to amortise a task's start, few enough to retry cheaply."""

MISSED = "weekly_wrapped.scheduler.batches.deadline_missed"

DEFAULTS: dict[str, Any] = {
    "owner": "weekly-wrapped",
    "retries": 3,
    "retry_delay": timedelta(minutes=5),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=30),
}


@dag(
    dag_id="weekly_wrapped_poll",
    schedule="@hourly",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args={**DEFAULTS, "execution_timeout": timedelta(minutes=50)},
    deadline=DeadlineAlert(
        reference=DeadlineReference.DAGRUN_QUEUED_AT,
        interval=timedelta(minutes=45),
        callback=SyncCallback(MISSED, kwargs={"what": "the hourly Spotify poll"}),
    ),
    tags=["weekly-wrapped"],
)
def weekly_wrapped_poll() -> None:
    @task
    def poll() -> dict[str, int]:
        """Fetch every connected user's recent plays from Spotify into the pipeline."""
        from weekly_wrapped.scheduler.batches import poll_users

        return poll_users()

    poll()


@dag(
    dag_id="weekly_wrapped_recaps",
    schedule="0 * * * 0-2",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULTS,
    deadline=DeadlineAlert(
        reference=DeadlineReference.DAGRUN_QUEUED_AT,
        interval=timedelta(hours=2),
        callback=SyncCallback(MISSED, kwargs={"what": "the weekly recap emails"}),
    ),
    tags=["weekly-wrapped"],
)
def weekly_wrapped_recaps() -> None:
    @task
    def due_batches() -> list[list[tuple[int, str]]]:
        """The recaps due now, in batches of BATCH_SIZE users."""
        from weekly_wrapped.scheduler.batches import due_batches

        return due_batches(size=BATCH_SIZE)

    @task(max_active_tis_per_dagrun=4, execution_timeout=timedelta(hours=1))
    def send_batch(batch: list[tuple[int, str]]) -> dict[str, int]:
        """Build and email one batch of recaps (once each, by the delivery ledger)."""
        from weekly_wrapped.scheduler.batches import send_batch

        return send_batch(batch)

    send_batch.expand(batch=due_batches())


weekly_wrapped_poll()
weekly_wrapped_recaps()

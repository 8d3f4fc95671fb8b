"""Run inside the Airflow virtualenv (scripts/airflow-venv) by test_airflow_dag.py.

Loads deploy/airflow the way Airflow's DAG processor does (a bundle DagBag, the
folder appended to sys.path), prints what it found as JSON, and, with `--run`,
calls the weekly DAG's task callables against the warehouse WRAPPED_* names: the
list of due batches, then each batch's send, twice (the second must send nothing).
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import Any

from airflow.dag_processing.dagbag import BundleDagBag


def describe(dag: Any) -> dict[str, Any]:
    return {
        "schedule": repr(dag.timetable),
        "catchup": dag.catchup,
        "tasks": {
            task.task_id: {
                "mapped": type(task).__name__ == "DecoratedMappedOperator",
                "retries": task.retries,
                "upstream": sorted(task.upstream_task_ids),
            }
            for task in dag.tasks
        },
        "deadlines": [
            {"interval_s": d.interval.total_seconds(), "callback": d.callback.path}
            for d in dag.deadline or []
        ],
    }


def import_string(path: str) -> Any:
    """The object at a dotted path, as Airflow imports a deadline's callback."""
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def callable_of(task: Any) -> Any:
    """The Python function a (possibly mapped) @task runs."""
    return task.python_callable


def main() -> None:
    folder = Path(sys.argv[1]).resolve()
    bag = BundleDagBag(dag_folder=folder, bundle_path=folder)
    report: dict[str, Any] = {
        "import_errors": {str(k): v for k, v in bag.import_errors.items()},
        "dags": {dag_id: describe(dag) for dag_id, dag in bag.dags.items()},
    }
    for dag in bag.dags.values():
        for deadline in dag.deadline or []:
            import_string(deadline.callback.path)(what="a test of the callback")
    if "--run" in sys.argv:
        recaps = bag.dags["weekly_wrapped_recaps"]
        batches = callable_of(recaps.get_task("due_batches"))()
        send = callable_of(recaps.get_task("send_batch"))
        report["batches"] = batches
        report["sent"] = [send(batch=batch) for batch in batches]
        report["sent_again"] = [send(batch=batch) for batch in batches]
    print(json.dumps(report))


if __name__ == "__main__":
    main()

"""docs/operations.md names the metrics `/metrics` really serves, and no others."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from flask.testing import FlaskClient
from prometheus_client import REGISTRY
from sqlalchemy import Engine

import weekly_wrapped.scheduler.jobs  # noqa: F401 - registers the scheduler's metrics
from weekly_wrapped.config import load_settings
from weekly_wrapped.web import create_app

ROOT = Path(__file__).resolve().parents[2]


def documented() -> set[str]:
    text = (ROOT / "docs" / "operations.md").read_text()
    section = text[text.index("## Monitoring") :]
    return set(re.findall(r"`(wrapped_[a-z_]+)", section))


def served(client: FlaskClient) -> set[str]:
    """The metric names in the scrape (a counter's `_created` twin aside)."""
    body = client.get("/metrics").get_data(as_text=True)
    names = set(re.findall(r"^# TYPE (wrapped_\w+) ", body, re.MULTILINE))
    return {name for name in names if not name.endswith("_created")}


def test_the_monitoring_table_names_every_metric_served(
    database_factory: Callable[[str], Engine], tmp_path: Path
) -> None:
    engine = database_factory("sqlite")
    settings = load_settings(
        data_dir=tmp_path,
        database_url=engine.url.render_as_string(hide_password=False),
        secret_key="x" * 43 + "=",
    )
    client = create_app(settings, engine=engine).test_client()
    names = served(client)
    assert "wrapped_plays_ingested" in names and "wrapped_recaps_sent_total" in names
    assert documented() == names
    registered = {m.name for m in REGISTRY.collect() if m.name.startswith("wrapped_")}
    assert registered <= {n.removesuffix("_total") for n in names}

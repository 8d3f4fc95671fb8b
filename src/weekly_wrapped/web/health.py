"""Health for load balancers and Prometheus: `/healthz`, `/readyz`, `/metrics`."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

from flask import Blueprint, Response, jsonify
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func, select, text

from weekly_wrapped.warehouse.queries import as_utc
from weekly_wrapped.warehouse.schema import delivery, fact_play, ingest_cursor, oauth_token
from weekly_wrapped.web.state import web_state

bp = Blueprint("health", __name__)
CACHE_SECONDS = 15.0
"""Scrapes within this long reuse the last reading: counting plays is not free."""


@bp.get("/healthz")
def healthz() -> Response:
    """The process answers."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    """The database and the bus are reachable; 503 naming what is not."""
    state = web_state()
    checks = {"database": _database(state.engine), "bus": _bus()}
    ready = all(v == "ok" for v in checks.values())
    return jsonify(status="ready" if ready else "not ready", checks=checks), 200 if ready else 503


def _database(engine: Engine) -> str:
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # any failure means not ready; say which
        return f"unreachable: {type(exc).__name__}"
    return "ok"


def _bus() -> str:
    from weekly_wrapped.bus.factory import open_bus

    state = web_state()
    try:
        bus = open_bus(state.engine, state.settings)
        check = getattr(bus, "check", None)
        if callable(check):
            check()
        close = getattr(bus, "close", None)
        if callable(close):
            close()
    except Exception as exc:  # any failure means not ready; say which
        return f"unreachable: {type(exc).__name__}: {exc}"
    return "ok"


@bp.get("/metrics")
def metrics() -> Response:
    """Prometheus text: the warehouse's totals, plus this process's own counters."""
    registry = CollectorRegistry(auto_describe=True)
    registry.register(_warehouse_collector())
    body = generate_latest(registry) + generate_latest(REGISTRY)
    return Response(body, mimetype="text/plain; version=0.0.4; charset=utf-8")


def _warehouse_collector() -> Collector:
    state = web_state()
    cache: dict[str, object] = state.__dict__.setdefault("_metrics_cache", {})
    if time.monotonic() - float(cache.get("at", 0.0)) > CACHE_SECONDS:  # type: ignore[arg-type]
        cache["metrics"] = list(_read_warehouse(state.engine))
        cache["at"] = time.monotonic()
    return _Fixed(cache["metrics"])  # type: ignore[arg-type]


class _Fixed(Collector):
    def __init__(self, metrics: list[Metric]) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        return iter(self.metrics)


def _read_warehouse(engine: Engine) -> Iterator[Metric]:
    with engine.connect() as conn:
        plays = conn.execute(select(func.count()).select_from(fact_play)).scalar() or 0
        oldest = conn.execute(
            select(func.min(ingest_cursor.c.updated_at)).join(
                oauth_token, oauth_token.c.user_key == ingest_cursor.c.user_key
            )
        ).scalar()
        emails = conn.execute(
            select(delivery.c.channel, delivery.c.status, func.count()).group_by(
                delivery.c.channel, delivery.c.status
            )
        ).all()
    yield GaugeMetricFamily("wrapped_plays_ingested", "Plays in the warehouse", value=plays)
    lag = 0.0 if oldest is None else (datetime.now(UTC) - as_utc(oldest)).total_seconds()
    yield GaugeMetricFamily(
        "wrapped_poll_lag_seconds", "Time since the least recently polled user's poll", value=lag
    )
    family = GaugeMetricFamily(
        "wrapped_emails", "Emails in the delivery ledger, by channel and status",
        labels=["channel", "status"],
    )  # fmt: skip
    for channel, status, count in emails:
        family.add_metric([channel, status], count)
    yield family

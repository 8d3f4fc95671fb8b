"""Wiring: builds the configured bus and runs sources through it."""

from __future__ import annotations

from typing import Literal

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import Engine

from weekly_wrapped.bus import open_bus
from weekly_wrapped.config import Settings
from weekly_wrapped.sources import synthetic
from weekly_wrapped.warehouse import users
from weekly_wrapped.warehouse.writer import WriteResult


def generate(
    engine: Engine,
    settings: Settings,
    user_key: int,
    *,
    weeks: int,
    seed: int,
    source: Literal["manual", "api"] = "manual",
    console: Console | None = None,
) -> WriteResult:
    """Generate synthetic listening for a user and publish it to the bus."""
    with engine.connect() as conn:
        person = users.get_user(conn, user_key)
    plays = list(
        synthetic.generate_plays(
            user_key, weeks=weeks, seed=seed, timezone=person.timezone, source=source
        )
    )
    bus = open_bus(engine, settings)
    total = WriteResult()
    with Progress(
        TextColumn("loading plays"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=console is None,
    ) as progress:
        task = progress.add_task("plays", total=len(plays))
        for start in range(0, len(plays), settings.batch_size):
            batch = plays[start : start + settings.batch_size]
            total += bus.publish(batch)
            progress.advance(task, len(batch))
    return total

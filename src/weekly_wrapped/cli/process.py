"""`wrapped process`: the Kafka consumer, writing plays from the topic to the warehouse."""

from __future__ import annotations

import logging
import signal
from types import FrameType
from typing import Annotated, Literal

import typer

from weekly_wrapped.cli.app import app, err, get_settings, open_engine, out


@app.command()
def process(
    bus: Annotated[
        Literal["local", "kafka"] | None,
        typer.Option(help="Where plays come from: kafka. Default: WRAPPED_BUS."),
    ] = None,
    engine: Annotated[
        Literal["embedded", "spark"] | None,
        typer.Option(help="What writes them: embedded (Python) or spark. Default: WRAPPED_ENGINE."),
    ] = None,
    until_idle: Annotated[
        bool,
        typer.Option(
            "--until-idle", help="Exit once the group has read every message (tests, cron)."
        ),
    ] = False,
) -> None:
    """Write plays from Kafka to the warehouse, batch by batch, until stopped (SIGTERM)."""
    from weekly_wrapped.bus.factory import open_stream

    settings = get_settings()
    chosen = {"bus": bus, "engine": engine}
    settings = settings.model_copy(update={k: v for k, v in chosen.items() if v is not None})
    warehouse = open_engine(settings)
    stream = open_stream(warehouse, settings)
    _show_batches()

    def stop(signum: int, frame: FrameType | None) -> None:
        err.print("Stopping after the batch in hand…")
        stream.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    report = stream.run(until_idle=until_idle)
    written = report.written
    out.print(
        f"Read {report.messages:,} messages in {report.batches:,} batches: "
        f"{written.inserted:,} new plays, {written.merged:,} merged, "
        f"{written.duplicates:,} already there, {report.rejected:,} rejected."
    )


def _show_batches() -> None:
    """Each batch's line is the consumer's heartbeat: shown unless logging asks for less."""
    consumer = logging.getLogger("weekly_wrapped.bus.consumer")
    if consumer.getEffectiveLevel() > logging.INFO:
        consumer.setLevel(logging.INFO)

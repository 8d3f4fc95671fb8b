"""The one composition root: the bus `WRAPPED_BUS` names, feeding the processor
`WRAPPED_ENGINE` names, which rejects to its sink."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from weekly_wrapped.bus import Bus
from weekly_wrapped.bus.local import LocalBus
from weekly_wrapped.config import Settings
from weekly_wrapped.errors import ConfigError
from weekly_wrapped.extras import require
from weekly_wrapped.processing.embedded import EmbeddedProcessor
from weekly_wrapped.processing.processor import QuarantineSink

if TYPE_CHECKING:
    from weekly_wrapped.bus.consumer import PlayStream
    from weekly_wrapped.processing.spark_job import SparkStream


def open_bus(engine: Engine, settings: Settings) -> Bus:
    """The configured bus; `Settings` has already refused combinations that cannot work."""
    if settings.bus == "kafka":
        require("kafka", "confluent_kafka", needed_by="WRAPPED_BUS=kafka")
        from weekly_wrapped.bus.kafka import KafkaBus

        return KafkaBus(settings)
    return local_bus(
        engine,
        batch_size=settings.batch_size,
        max_future_skew=timedelta(seconds=settings.max_future_skew_s),
    )


def prepare_bus(settings: Settings) -> list[str]:
    """Create what the configured bus needs before its first use: Kafka's topics.

    Returns the topics created; the local bus needs nothing.
    """
    if settings.bus != "kafka":
        return []
    require("kafka", "confluent_kafka", needed_by="WRAPPED_BUS=kafka")
    from weekly_wrapped.bus.kafka import ensure_topics

    return ensure_topics(settings)


def local_bus(
    engine: Engine, *, batch_size: int = 5000, max_future_skew: timedelta = timedelta(minutes=5)
) -> LocalBus:
    """The in-process bus over the embedded processor, rejecting to the quarantine table."""
    processor = EmbeddedProcessor(
        engine, batch_size=batch_size, max_future_skew=max_future_skew, rejects=QuarantineSink()
    )
    return LocalBus(processor)


def open_stream(engine: Engine, settings: Settings) -> PlayStream | SparkStream:
    """What `wrapped process` runs: the Spark job (WRAPPED_ENGINE=spark), or the Kafka
    consumer feeding the embedded processor, which rejects to the dead-letter topic."""
    if settings.bus != "kafka":
        raise ConfigError(
            f"`wrapped process` reads plays from Kafka, and WRAPPED_BUS={settings.bus}",
            hint="Set WRAPPED_BUS=kafka (or pass --bus kafka); the local bus writes plays at once.",
        )
    require("kafka", "confluent_kafka", needed_by="WRAPPED_BUS=kafka")
    from weekly_wrapped.bus import kafka
    from weekly_wrapped.bus.consumer import PlayStream

    kafka.ensure_topics(settings)
    if settings.engine == "spark":
        require("spark", "pyspark", needed_by="WRAPPED_ENGINE=spark")
        from weekly_wrapped.processing.spark_job import SparkStream

        return SparkStream(settings)
    delivery = kafka.Delivery(settings, transactional_id=kafka.transactional_id(settings))
    dead_letters = kafka.DeadLetters(settings, delivery)
    processor = EmbeddedProcessor(
        engine,
        batch_size=settings.batch_size,
        max_future_skew=timedelta(seconds=settings.max_future_skew_s),
        rejects=dead_letters,
    )
    return PlayStream(
        engine,
        processor,
        kafka.PlayConsumer(settings),
        dead_letters,
        delivery,
        batch_size=settings.batch_size,
        poll_timeout_s=settings.kafka_poll_timeout_s,
    )

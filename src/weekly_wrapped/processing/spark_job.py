"""The Spark engine: one Structured Streaming job from the play topic to the warehouse.

The job reads `wrapped.plays.v1` with Spark's Kafka source and drops the events it
has already seen within the dedupe window (`dropDuplicatesWithinWatermark` on the
event id). The watermark sits on the Kafka record's timestamp, never on `played_at`:
an import publishes plays that are years old, and none of them is late.

Each micro-batch is written by `foreachBatch` where its data is: the batch is
partitioned by Kafka key (the user), and every task hands its Arrow batches to the
**same** processor as the embedded engine (`mapInArrow`), over a database connection
of its own. The processor checks every message (required fields and types, the
schema, sane timestamps, a known user) and quarantines what fails with its reason,
so both engines reject the same messages the same way. Writes are idempotent by
event id, and the per-user writer lock keeps two tasks off one user's plays. Only
one small row of counts per task comes back to the driver, never the plays.

The checkpoint holds the offsets and the dedupe state: a job killed at any point
starts again where its last committed batch ended, and a batch it re-runs writes
nothing twice.

Run it with `wrapped process --bus kafka --engine spark`, or with `spark-submit` on a
cluster (docs/spark.md): this file is the application.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from weekly_wrapped.errors import ConfigError, TerminalError
from weekly_wrapped.extras import require
from weekly_wrapped.warehouse.writer import WriteResult

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.streaming.query import StreamingQuery

    from weekly_wrapped.config import Settings

log = logging.getLogger(__name__)

SCHEMA = "play.v1"
STAGE = "spark"
"""The quarantine's `stage` for messages the job itself refuses (an unknown schema header)."""

_COUNTS = "messages long, inserted long, duplicates long, merged long, quarantined long"


@dataclass(frozen=True)
class JobConfig:
    """What each task needs to write its share of a batch: plain values, sent to executors."""

    database_url: str
    batch_size: int
    max_future_skew_s: int
    busy_timeout_s: float


@dataclass
class StreamReport:
    """What a run of the job did."""

    batches: int = 0
    messages: int = 0
    written: WriteResult = field(default_factory=WriteResult)

    @property
    def rejected(self) -> int:
        return self.written.quarantined


class SparkStream:
    """The Structured Streaming query of the job: run until stopped, or until caught up."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.report = StreamReport()
        self.stopping = threading.Event()
        self._counts: dict[int, tuple[WriteResult, float]] = {}
        self.batch_rows: list[int] = []
        """Messages of each batch that had any, in order (benchmarks read these)."""
        self.batch_seconds: list[float] = []

    def stop(self) -> None:
        """Let the batch in hand finish, then stop the query."""
        self.stopping.set()

    def run(self, *, until_idle: bool = False) -> StreamReport:
        """Process the topic until `stop`; with `until_idle`, until every message read so far is."""
        spark = session(self.settings)
        query = self.start(spark, until_idle=until_idle)
        from pyspark.errors import StreamingQueryException

        try:
            while query.isActive:
                if self.stopping.is_set() and not query.status["isTriggerActive"]:
                    query.stop()
                query.awaitTermination(1)
                self.log_progress(query.recentProgress)
            failure = query.exception()
        except StreamingQueryException as exc:
            failure = exc
        except Exception:
            if not self.stopping.is_set():
                with suppress(Exception):
                    query.stop()
                raise
            # The stop signal reached the JVM too (a whole process group was signalled):
            # the batch in hand, if any, runs again from the checkpoint next time.
            log.warning("the Spark JVM stopped with the job; its last batch runs again next time")
            return self.report
        if failure is not None:
            raise SparkJobFailed(f"the Spark job stopped: {_first_line(str(failure))}")
        self.log_progress(query.recentProgress)
        return self.report

    def start(self, spark: SparkSession, *, until_idle: bool) -> StreamingQuery:
        """Start the query on `spark`."""
        settings = self.settings
        config = JobConfig(
            database_url=settings.db_url,
            batch_size=settings.batch_size,
            max_future_skew_s=settings.max_future_skew_s,
            busy_timeout_s=settings.database_busy_timeout_s,
        )
        writer = (
            deduplicated(read_plays(spark, settings), settings.spark_dedupe_window_s)
            .writeStream.queryName("wrapped-plays")
            .option("checkpointLocation", checkpoint_location(settings))
            .foreachBatch(partial(self.write_batch, config))
        )
        if until_idle:
            writer = writer.trigger(availableNow=True)
        else:
            writer = writer.trigger(processingTime=f"{settings.spark_trigger_s} seconds")
        return writer.start()

    def write_batch(self, config: JobConfig, batch: DataFrame, batch_id: int) -> None:
        """`foreachBatch`: each user's messages to one task, each task writing its own."""
        from pyspark.sql.functions import col

        started = time.monotonic()
        tasks = batch.repartition(self.settings.spark_partitions, col("key"))
        rows = tasks.mapInArrow(partial(write_partition, config), _COUNTS).collect()
        written = WriteResult(
            received=sum(r.messages for r in rows),
            inserted=sum(r.inserted for r in rows),
            duplicates=sum(r.duplicates for r in rows),
            merged=sum(r.merged for r in rows),
            quarantined=sum(r.quarantined for r in rows),
        )
        seconds = time.monotonic() - started
        self._counts[batch_id] = (written, seconds)
        if written.received:
            self.batch_rows.append(written.received)
            self.batch_seconds.append(seconds)
        report = self.report
        report.batches += 1
        report.messages += written.received
        report.written += written

    def log_progress(self, recent: list[Any]) -> None:
        """Log one line per written batch: rows in, written, quarantined, lag and duration."""
        for progress in recent:
            written, seconds = self._counts.pop(progress.batchId, (None, 0.0))
            if written is None:
                continue  # logged already, or a trigger with no data
            behind = lag(progress.sources)
            log.info(
                "batch %d: %d in, %d written, %d quarantined, lag %d (%.0f ms)",
                progress.batchId,
                written.received,
                written.inserted + written.merged,
                written.quarantined,
                behind,
                seconds * 1000,
                extra={"messages": written.received, "lag": behind},
            )


class SparkJobFailed(TerminalError):
    """The streaming query ended with an error; the checkpoint lets it start again."""

    hint = "Fix the cause and run it again: it resumes from its checkpoint, writing nothing twice."


def session(settings: Settings) -> SparkSession:
    """The job's Spark session, with the Kafka source's jars from the local Maven copy.

    Under `spark-submit` the master and jars come from it; here they come from settings.
    """
    require("spark", "pyspark", needed_by="WRAPPED_ENGINE=spark")
    from pyspark import SparkConf, SparkContext
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active  # a session this process made already (tests make one per module)
    # Python workers must run this interpreter, the one that has Weekly Wrapped installed.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    if "PYSPARK_GATEWAY_PORT" in os.environ:
        # Started by spark-submit: its JVM holds --master and --jars. Join it first, as a
        # SparkConf made before that is empty and the settings would override them.
        SparkContext._ensure_initialized()
    submitted = SparkConf()
    builder = SparkSession.builder.appName("weekly-wrapped")
    if not submitted.contains("spark.master"):
        builder = builder.master(settings.spark_master)
    if not (submitted.contains("spark.jars") or submitted.contains("spark.jars.packages")):
        builder = builder.config("spark.jars", ",".join(kafka_jars(settings)))
    builder = (
        builder.config("spark.sql.shuffle.partitions", str(settings.spark_partitions))
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.streaming.stateStore.providerClass", _ROCKSDB)
    )
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    return spark


_ROCKSDB = "org.apache.spark.sql.execution.streaming.state.RocksDBStateStoreProvider"
"""Dedupe state off the JVM heap: an hour of event ids at scale is millions of keys."""


def kafka_jars(settings: Settings) -> list[str]:
    """The jars of Spark's Kafka source: WRAPPED_SPARK_JARS, or infra/jvm/spark/target/lib."""
    if settings.spark_jars is not None:
        listed = [j.strip() for j in settings.spark_jars.split(",") if j.strip()]
        if len(listed) == 1 and Path(listed[0]).is_dir():
            return _jars_in(Path(listed[0]))
        return listed
    for parent in Path(__file__).resolve().parents:
        folder = parent / "infra" / "jvm" / "spark" / "target" / "lib"
        if folder.is_dir():
            return _jars_in(folder)
    raise ConfigError(
        "the Spark job needs the jars of Spark's Kafka source, and none were found",
        hint="Run scripts/jvm-jars spark in a checkout (Maven fetches them), or set "
        "WRAPPED_SPARK_JARS to a folder or a comma-separated list of jars.",
    )


def _jars_in(folder: Path) -> list[str]:
    jars = sorted(str(p) for p in folder.glob("*.jar"))
    if not jars:
        raise ConfigError(f"no jars in {folder}", hint="Run scripts/jvm-jars spark.")
    return jars


def checkpoint_location(settings: Settings) -> str:
    """Where the query keeps its offsets and dedupe state (a local folder, HDFS or S3 URL)."""
    return settings.spark_checkpoint or str(settings.data_dir / "spark-checkpoint")


def read_plays(spark: SparkSession, settings: Settings) -> DataFrame:
    """The play topic as a stream of Kafka records, at most `maxOffsetsPerTrigger` a batch."""
    return (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", settings.kafka_bootstrap)
        .option("subscribe", settings.kafka_topic)
        .option("startingOffsets", "earliest")
        .option("maxOffsetsPerTrigger", str(settings.spark_max_offsets_per_trigger))
        .option("includeHeaders", "true")
        .load()
    )


def deduplicated(records: DataFrame, window_s: int) -> DataFrame:
    """Each event once within the window, by event id; the watermark is on the record's time.

    Spark drops rows older than the watermark unseen, and a record can be older than
    the window: a backlog read with one partition behind another, a replay, a producer
    whose clock is behind. So the time the watermark follows is the record's, held
    within the window before the batch's own time (`current_timestamp`): the watermark
    (the newest time seen, less the window) then never passes a record still to come,
    and nothing is ever late. A message with no event id (not JSON, say) is kept under
    its own offset, and the processor quarantines it with its reason.
    """
    from pyspark.sql.functions import (
        coalesce,
        col,
        concat_ws,
        current_timestamp,
        expr,
        get_json_object,
        greatest,
        least,
        lit,
    )

    now = current_timestamp()
    window = f"{window_s} seconds"
    floor = expr(f"current_timestamp() - INTERVAL {window_s} SECONDS")
    seen_at = least(greatest(col("timestamp"), floor), now)
    event_id = get_json_object(col("value").cast("string"), "$.event_id")
    origin = concat_ws(":", lit("kafka"), col("topic"), col("partition"), col("offset"))
    return (
        records.withColumn("dedupe_key", coalesce(event_id, origin))
        .withColumn("seen_at", seen_at)
        .withWatermark("seen_at", window)
        .dropDuplicatesWithinWatermark(["dedupe_key"])
        .select("key", "value", "headers")
    )


def write_partition(
    config: JobConfig, batches: Iterator[pa.RecordBatch]
) -> Iterator[pa.RecordBatch]:
    """One task's share of a micro-batch, through the embedded engine's processor.

    Runs on an executor. Yields one row of counts: the plays stay where they are.
    """
    import pyarrow as pa

    from weekly_wrapped.processing.embedded import EmbeddedProcessor
    from weekly_wrapped.processing.processor import QuarantineSink
    from weekly_wrapped.processing.transform import rejected_from_raw

    engine = _engine(config)
    sink = QuarantineSink()
    processor = EmbeddedProcessor(
        engine,
        batch_size=config.batch_size,
        max_future_skew=timedelta(seconds=config.max_future_skew_s),
        rejects=sink,
    )
    total = WriteResult()
    for batch in batches:
        values = batch.column("value").to_pylist()
        headers = batch.column("headers").to_pylist()
        plays: list[bytes] = []
        foreign = []
        for value, header in zip(values, headers, strict=True):
            schema = _schema_header(header)
            if schema in (None, SCHEMA):
                plays.append(value if value is not None else b"")
            else:
                reason = f"unknown schema header {schema!r}; this job reads {SCHEMA}"
                foreign.append(rejected_from_raw(value or b"", reason))
        if foreign:
            with engine.begin() as conn:
                sink.put(conn, foreign, stage=STAGE)
            total += WriteResult(received=len(foreign), quarantined=len(foreign))
        total += processor.process(plays)
    yield pa.RecordBatch.from_pylist(
        [
            {
                "messages": total.received,
                "inserted": total.inserted,
                "duplicates": total.duplicates,
                "merged": total.merged,
                "quarantined": total.quarantined,
            }
        ],
        schema=pa.schema([(name, pa.int64()) for name in _COUNTS.replace(" long", "").split(", ")]),
    )


def _schema_header(headers: list[dict[str, Any]] | None) -> str | None:
    """The record's `schema` header, if it has one (a producer such as kcat may send none)."""
    for header in headers or ():
        if header["key"] == "schema":
            raw = header["value"]
            return raw.decode("utf-8", "replace") if raw is not None else ""
    return None


_ENGINES: dict[JobConfig, Any] = {}


def _engine(config: JobConfig) -> Any:
    """One engine per Python worker: a reused worker keeps its connections between batches."""
    if config not in _ENGINES:
        from weekly_wrapped.warehouse import db

        _ENGINES[config] = db.connect(config.database_url, busy_timeout_s=config.busy_timeout_s)
    return _ENGINES[config]


def lag(sources: Any) -> int:
    """Messages in the topic past what the batch read, summed over its partitions."""
    behind = 0
    for source in sources:
        latest = _offsets(source.latestOffset)
        end = _offsets(source.endOffset)
        for topic, partitions in latest.items():
            for partition, offset in partitions.items():
                behind += max(0, int(offset) - int(end.get(topic, {}).get(partition, 0)))
    return behind


def _offsets(raw: str | None) -> dict[str, dict[str, int]]:
    if not raw:
        return {}
    try:
        parsed = json.loads(raw)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _first_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[0] if lines else "unknown error"


def main() -> None:
    """`spark-submit …/spark_job.py [--until-idle]`: the job, with settings from WRAPPED_*."""
    from weekly_wrapped.config import load_settings
    from weekly_wrapped.logs import setup_logging

    settings = load_settings()
    setup_logging(settings.log_level, settings.log_format)
    report = SparkStream(settings).run(until_idle="--until-idle" in sys.argv[1:])
    log.info(
        "read %d messages in %d batches; %d quarantined",
        report.messages,
        report.batches,
        report.rejected,
    )


if __name__ == "__main__":
    main()

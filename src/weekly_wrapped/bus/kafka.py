"""Kafka, through confluent-kafka: the topics, the producer, the consumer client (DESIGN §2, §5).

The one module that imports the SDK. A play is one message on `WRAPPED_KAFKA_TOPIC`:
key the user id (per-user order and partitioning), value the PlayEvent's JSON, header
``schema=play.v1``. The producer is idempotent and waits for every in-sync replica
(``acks=all``); `KafkaBus.publish` acknowledges only the plays whose delivery the
broker confirmed, so a source moves its cursor only past delivered plays.

What the consumer cannot take goes to `WRAPPED_KAFKA_DLQ_TOPIC` with its original
key and bytes, the error, and where it came from (topic, partition, offset) in
headers: `DeadLetters` sends them, for the consumer and, as a `RejectSink`, for
the processor. The consumer's dead letters and its offsets commit in one Kafka
transaction (`Delivery.begin`/`commit_with`), so a batch read again after a crash
dead-letters its rejects once, not twice, for every reader that reads committed
messages only (librdkafka's default; Java clients need ``isolation.level=read_committed``).
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import uuid4

import orjson
from confluent_kafka import (
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic
from sqlalchemy import Connection

from weekly_wrapped.bus import Ack
from weekly_wrapped.config import Settings
from weekly_wrapped.errors import TerminalError, TransientError
from weekly_wrapped.events import SCHEMA_NAME, PlayEvent
from weekly_wrapped.rows import Rejected

log = logging.getLogger(__name__)

Headers = list[tuple[str, str | bytes | None]]
SCHEMA_HEADER = "schema"
PLAY_SCHEMA = SCHEMA_NAME.encode()
PLAY_HEADERS: Headers = [(SCHEMA_HEADER, PLAY_SCHEMA)]
_HOUR_MS = 3_600_000
_ADMIN_TIMEOUT_S = 15.0


class KafkaUnavailable(TransientError):
    """The brokers could not be reached, or did not confirm a delivery in time."""

    hint = "Is Kafka running at WRAPPED_KAFKA_BOOTSTRAP? (`make services-up` starts one.)"


class KafkaFenced(TerminalError):
    """Another consumer took over this one's transactions: this one must stop."""

    hint = "Give each consumer its own WRAPPED_KAFKA_INSTANCE_ID, or none."


def _client_config(settings: Settings) -> dict[str, Any]:
    """What every client shares: the brokers, and librdkafka's logs in ours."""
    return {
        "bootstrap.servers": settings.kafka_bootstrap,
        "logger": logging.getLogger("weekly_wrapped.bus.librdkafka"),
        "error_cb": _log_error,
    }


def _log_error(error: KafkaError) -> None:
    """A client-wide error (brokers down, for one): the client keeps retrying on its own."""
    log.warning("kafka: %s", error.str())


# --- topics ----------------------------------------------------------------------------------


def ensure_topics(settings: Settings) -> list[str]:
    """Create the play and dead-letter topics if absent, as the settings describe them.

    Returns the topics this call created (none when they all existed).
    """
    admin = AdminClient(_client_config(settings))
    existing = _topic_names(admin, settings)
    retention = settings.kafka_retention_hours
    config = {"retention.ms": str(-1 if retention < 0 else retention * _HOUR_MS)}
    wanted = [
        NewTopic(name, settings.kafka_partitions, settings.kafka_replication_factor, config=config)
        for name in dict.fromkeys([settings.kafka_topic, settings.kafka_dlq_topic])
        if name not in existing
    ]
    created: list[str] = []
    if not wanted:
        return created
    for name, future in admin.create_topics(wanted, operation_timeout=_ADMIN_TIMEOUT_S).items():
        try:
            future.result()
            log.info("created topic %s", name)
            created.append(name)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise KafkaUnavailable(f"could not create topic {name}: {_reason(exc)}") from None
    return created


def _topic_names(admin: AdminClient, settings: Settings) -> set[str]:
    try:
        return set(admin.list_topics(timeout=_ADMIN_TIMEOUT_S).topics)
    except KafkaException as exc:
        raise KafkaUnavailable(
            f"no Kafka broker answered at {settings.kafka_bootstrap}: {_reason(exc)}"
        ) from None


def _reason(exc: KafkaException) -> str:
    error = exc.args[0] if exc.args else None
    return error.str() if isinstance(error, KafkaError) else str(exc)


# --- producing -------------------------------------------------------------------------------


class Delivery:
    """An idempotent producer that says, after `confirm`, how many messages failed.

    Given a `transactional_id`, its messages wait in a Kafka transaction: `begin`
    opens one, and `commit_with` commits it together with a consumer's offsets.
    """

    def __init__(self, settings: Settings, *, transactional_id: str | None = None) -> None:
        self.failures: list[str] = []
        self.timeout_s = settings.kafka_delivery_timeout_s
        config = _client_config(settings) | {
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": settings.kafka_linger_ms,
            "batch.size": settings.kafka_batch_bytes,
            "compression.type": settings.kafka_compression,
            "message.timeout.ms": round(settings.kafka_delivery_timeout_s * 1000),
            "queue.buffering.max.messages": 1_000_000,
            # Reports of successes cost a Python call each; failures are all we count.
            "delivery.report.only.error": True,
            "on_delivery": self._failed,
        }
        if transactional_id is not None:
            # A message may wait no longer than its transaction, which the broker caps.
            self.timeout_s = min(self.timeout_s, _MAX_TRANSACTION_S)
            config |= {
                "transactional.id": transactional_id,
                "transaction.timeout.ms": round(self.timeout_s * 1000),
                "message.timeout.ms": round(self.timeout_s * 1000),
            }
        self.producer = Producer(config)
        self.transactional = transactional_id is not None
        if self.transactional:
            self._transaction(self.producer.init_transactions, "start transactions")

    def _failed(self, error: KafkaError | None, message: Message) -> None:
        if error is not None:
            self.failures.append(error.str())

    def send(self, topic: str, key: bytes | None, value: bytes | None, headers: Headers) -> None:
        """Queue one message; while the local queue is full, wait for deliveries to free it."""
        while True:
            try:
                self.producer.produce(topic, value, key, headers=headers)
                return
            except BufferError:
                self.producer.poll(0.05)

    def confirm(self) -> int:
        """Wait until every queued message is delivered or has failed; return how many failed."""
        deadline = time.monotonic() + self.timeout_s + 30
        while self.producer.flush(1.0) > 0:
            if time.monotonic() > deadline:
                raise KafkaUnavailable("Kafka confirmed no delivery in time")
        failed, self.failures = self.failures, []
        if failed:
            log.warning("%d messages not delivered: %s", len(failed), failed[0])
        return len(failed)

    def begin(self) -> None:
        """Open a transaction: what is sent now is seen only once `commit_with` succeeds."""
        self._transaction(lambda _: self.producer.begin_transaction(), "open a transaction")

    def commit_with(self, offsets: list[TopicPartition], group: Any) -> bool:
        """Commit the transaction and the consumer's `offsets` at once; False if aborted.

        On an abort (the group moved the partitions, or a message was not delivered)
        nothing of the transaction is seen, and the batch is read again.
        """
        try:
            self._transaction(
                lambda timeout: self.producer.send_offsets_to_transaction(offsets, group, timeout),
                "commit the offsets",
            )
            self._transaction(self.producer.commit_transaction, "commit the transaction")
        except _Abortable as exc:
            log.warning("offsets not committed (%s); the batch will be read again", exc)
            self.abort()
            return False
        finally:
            self.failures = []
        return True

    def abort(self) -> None:
        """Drop the open transaction, if any, and what was sent in it."""
        try:
            self._transaction(self.producer.abort_transaction, "abort the transaction")
        except (_Abortable, KafkaUnavailable) as exc:
            log.warning("the transaction was not aborted (%s); it times out instead", exc)

    def _transaction(self, call: Any, what: str) -> None:
        """Run a transactional call, again while Kafka says it may pass a second time."""
        for _ in range(_TRANSACTION_TRIES):
            try:
                call(self.timeout_s)
                return
            except KafkaException as exc:
                error: KafkaError = exc.args[0]
                if error.fatal():
                    raise KafkaFenced(f"Kafka refused to {what}: {error.str()}") from None
                if error.txn_requires_abort():
                    raise _Abortable(error.str()) from None
                if not error.retriable():
                    raise KafkaUnavailable(f"could not {what}: {error.str()}") from None
        raise KafkaUnavailable(f"could not {what} in {_TRANSACTION_TRIES} tries")


class _Abortable(Exception):
    """The transaction failed; aborting it leaves the producer ready for the next."""


_MAX_TRANSACTION_S = 900.0
"""The broker's default `transaction.max.timeout.ms`: a transaction may not last longer."""
_TRANSACTION_TRIES = 3


def transactional_id(settings: Settings) -> str:
    """The consumer's transactional id: from its static member id when it has one, so that a
    restart at once aborts what the killed process left open; else its own."""
    member = settings.kafka_instance_id or f"{socket.gethostname()}-{os.getpid()}-{uuid4().hex}"
    return f"{settings.kafka_group}.{member}"


class KafkaBus:
    """Publishing is delivering: `publish` returns once the broker has every play, or says how
    many it has."""

    def __init__(self, settings: Settings, delivery: Delivery | None = None) -> None:
        ensure_topics(settings)
        self.topic = settings.kafka_topic
        self.delivery = delivery or Delivery(settings)

    def publish(self, events: Iterable[PlayEvent]) -> Ack:
        sent = 0
        for event in events:
            key = str(event.user_id).encode()
            self.delivery.send(self.topic, key, event.to_json(), PLAY_HEADERS)
            sent += 1
        return Ack(sent - self.delivery.confirm())

    def in_transaction(self, conn: Connection) -> KafkaBus:
        """Itself: the broker acknowledges first, and the caller's progress follows."""
        return self


# --- consuming -------------------------------------------------------------------------------


@dataclass
class Batch:
    """Messages read at once, the plays among them, and where each came from."""

    messages: list[Message]
    plays: list[bytes] = field(default_factory=list)
    """Values of the messages that claim to be PlayEvents, for the processor to judge."""
    foreign: list[tuple[Message, str]] = field(default_factory=list)
    """Messages that are no PlayEvent at all, each with the reason."""
    _by_event_id: dict[str, list[Message]] | None = None
    _by_payload: dict[str, list[Message]] | None = None

    @classmethod
    def of(cls, messages: list[Message]) -> Batch:
        """Sort the messages: a header naming another schema, or no value, is no PlayEvent."""
        batch = cls(messages)
        for message in messages:
            value = message.value()
            schema = _header(message, SCHEMA_HEADER)
            if value is None:
                batch.foreign.append((message, "an empty message (no value)"))
            elif schema is not None and schema != PLAY_SCHEMA:
                shown = schema.decode("utf-8", "replace")[:64]
                batch.foreign.append((message, f"unknown schema {shown!r}: expected {SCHEMA_NAME}"))
            else:
                batch.plays.append(value)
        return batch

    def next_offsets(self) -> list[TopicPartition]:
        """Per partition, the offset after the last message: what to commit."""
        last: dict[tuple[str, int], int] = {}
        for message in self.messages:
            topic, partition, offset = _where(message)
            last[(topic, partition)] = offset + 1
        return [TopicPartition(topic, part, offset) for (topic, part), offset in last.items()]

    def first_offsets(self) -> list[TopicPartition]:
        """Per partition, the first message's offset: where to read again."""
        first: dict[tuple[str, int], int] = {}
        for message in self.messages:
            topic, partition, offset = _where(message)
            first.setdefault((topic, partition), offset)
        return [TopicPartition(topic, part, offset) for (topic, part), offset in first.items()]

    def origin(self, rejected: Rejected) -> Message | None:
        """The message a processor's reject came from: by event id, else by its text."""
        if rejected.event_id is not None:
            if self._by_event_id is None:
                self._by_event_id = _index(self.messages, _event_id)
            found = self._by_event_id.get(rejected.event_id)
        else:
            if self._by_payload is None:
                self._by_payload = _index(self.messages, _text)
            found = self._by_payload.get(rejected.payload)
        return found.pop(0) if found else None


def _where(message: Message) -> tuple[str, int, int]:
    """A consumed message's topic, partition and offset (set on every message read)."""
    return message.topic() or "", message.partition() or 0, message.offset() or 0


def _header(message: Message, name: str) -> bytes | None:
    headers = message.headers() or []
    pairs = headers.items() if isinstance(headers, dict) else headers
    for key, value in pairs:
        if key == name:
            return value.encode() if isinstance(value, str) else value
    return None


def _text(message: Message) -> str | None:
    value = message.value()
    return None if value is None else value.decode("utf-8", errors="replace")


def _event_id(message: Message) -> str | None:
    try:
        found = orjson.loads(message.value() or b"null")
    except orjson.JSONDecodeError:
        return None
    event_id = found.get("event_id") if isinstance(found, dict) else None
    return event_id if isinstance(event_id, str) else None


def _index(messages: Sequence[Message], key_of: Any) -> dict[str, list[Message]]:
    """Messages by a key; built only when a batch has a reject to trace (rarely)."""
    index: dict[str, list[Message]] = {}
    for message in messages:
        key = key_of(message)
        if key is not None:
            index.setdefault(key, []).append(message)
    return index


Letter = tuple[bytes | None, bytes | None, Headers]
"""A dead letter: key, value and headers."""


class DeadLetters:
    """The dead-letter topic: each message with its original bytes, the error and its origin.

    A `RejectSink` too, for the processor's rejects of the batch in hand (`batch`).
    Letters wait until `send_pending`, once the batch's transaction has committed: a
    batch that is read again dead-letters its messages then, not twice.
    """

    def __init__(self, settings: Settings, delivery: Delivery) -> None:
        self.topic = settings.kafka_dlq_topic
        self.delivery = delivery
        self.batch: Batch | None = None
        self.pending: list[Letter] = []

    def put_message(self, message: Message, error: str, *, stage: str) -> None:
        """Dead-letter one message as it was read."""
        topic, partition, offset = _where(message)
        headers: Headers = [
            ("error", error.encode()),
            ("error.stage", stage.encode()),
            ("source.topic", topic.encode()),
            ("source.partition", str(partition).encode()),
            ("source.offset", str(offset).encode()),
        ]
        schema = _header(message, SCHEMA_HEADER)
        if schema is not None:
            headers.append((SCHEMA_HEADER, schema))
        self.pending.append((message.key(), message.value(), headers))

    def put(self, conn: Connection, rejected: Sequence[Rejected], *, stage: str) -> None:
        """Dead-letter the processor's rejects; one of unknown origin goes as its payload."""
        for reject in rejected:
            origin = self.batch.origin(reject) if self.batch is not None else None
            if origin is not None:
                self.put_message(origin, reject.reason, stage=stage)
                continue
            key = None if reject.user_key is None else str(reject.user_key).encode()
            headers: Headers = [("error", reject.reason.encode()), ("error.stage", stage.encode())]
            self.pending.append((key, reject.payload.encode(), headers))

    def send_pending(self) -> int:
        """Queue the pending letters on the producer (its `confirm` waits for them)."""
        for key, value, headers in self.pending:
            self.delivery.send(self.topic, key, value, headers)
        sent, self.pending = len(self.pending), []
        return sent

    def discard_pending(self) -> None:
        """Forget the letters of a batch that was not written: it is read again."""
        self.pending = []


def _log_assigned(consumer: Consumer, partitions: list[TopicPartition]) -> None:
    """Say which partitions the group gave this consumer (after each rebalance)."""
    numbers = ", ".join(str(p.partition) for p in partitions) or "none"
    log.info("partitions assigned: %s", numbers)


class PlayConsumer:
    """A member of the consumer group on the play topic; offsets are committed by hand only."""

    def __init__(self, settings: Settings) -> None:
        self.topic = settings.kafka_topic
        config = _client_config(settings) | {
            "group.id": settings.kafka_group,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "session.timeout.ms": 10_000,
        }
        if settings.kafka_instance_id:
            # A static member: restarted under the same id, it takes its partitions back at once.
            config["group.instance.id"] = settings.kafka_instance_id
        self.consumer = Consumer(config)
        self.consumer.subscribe([self.topic], on_assign=_log_assigned)

    def read(self, max_messages: int, timeout_s: float) -> Batch:
        """Up to `max_messages` messages, waiting at most `timeout_s` for the first."""
        return Batch.of(self._good(self.consumer.consume(max_messages, timeout_s)))

    def _good(self, messages: list[Message]) -> list[Message]:
        """The messages proper; errors the client reports in their place are logged."""
        good = []
        for message in messages:
            error = message.error()
            if error is None:
                good.append(message)
            elif error.fatal():
                raise KafkaUnavailable(f"the consumer failed: {error.str()}")
            else:
                log.warning("kafka: %s", error.str())
        return good

    def rewind(self, batch: Batch) -> None:
        """Read `batch` again from its first message, in the partitions this member still has."""
        mine = {(p.topic, p.partition) for p in self.consumer.assignment()}
        for position in batch.first_offsets():
            if (position.topic, position.partition) in mine:
                self.consumer.seek(position)

    def group_metadata(self) -> Any:
        """What a transaction needs to commit this member's offsets (and fence its zombies)."""
        return self.consumer.consumer_group_metadata()

    def hold(self, seconds: float, batch: Batch) -> Batch:
        """Wait `seconds` without reading on, yet alive in the group; `batch`, plus what came.

        The partitions are paused meanwhile. Messages of partitions the group assigns in
        the meantime (a rebalance) join the batch, so that none is skipped.
        """
        assigned = self.consumer.assignment()
        self.consumer.pause(assigned)
        try:
            arrived = self.consumer.consume(len(batch.messages) or 1, seconds)
        finally:
            self.consumer.resume(assigned)
        if not arrived:
            return batch
        return Batch.of([*batch.messages, *self._good(arrived)])

    def lag(self) -> int:
        """Messages not yet read in this member's partitions, as last fetched."""
        behind = 0
        assigned = self.consumer.assignment()
        if not assigned:
            return 0
        for position in self.consumer.position(assigned):
            _, high = self.consumer.get_watermark_offsets(position, cached=True)
            if position.offset >= 0 and high >= 0:
                behind += max(0, high - position.offset)
        return behind

    def group_caught_up(self) -> bool:
        """Whether the group has committed every message of every partition of the topic."""
        try:
            topic = self.consumer.list_topics(self.topic, timeout=_ADMIN_TIMEOUT_S).topics[
                self.topic
            ]
            parts = [TopicPartition(self.topic, p) for p in topic.partitions]
            committed = self.consumer.committed(parts, timeout=_ADMIN_TIMEOUT_S)
            for done in committed:
                low, high = self.consumer.get_watermark_offsets(done, timeout=_ADMIN_TIMEOUT_S)
                if max(done.offset, low) < high:
                    return False
        except KafkaException as exc:
            log.info("could not tell whether the group caught up: %s", _reason(exc))
            return False
        return True

    def close(self) -> None:
        """Leave the group, so that the others take the partitions at once."""
        self.consumer.close()

"""The analytics consumer: counts the events on the `events` exchange into SQLite, each event once.

Queue `events.analytics` (durable, bound to `events`) with manual acks. A message is acked only after
its counts are committed, and its event id is recorded in the same transaction, so a redelivery (after
a crash, a lost ack or a reconnect) changes nothing: the effect is exactly once.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import aio_pika
from aio_pika.abc import (
    AbstractIncomingMessage,
    AbstractRobustChannel,
    AbstractRobustConnection,
    AbstractRobustQueue,
)

from app.core.telemetry import SPAN_KIND_CONSUMER, AttributeValue, Tracer, parse_traceparent
from app.messaging.delivery import consumer_span_attributes, count_consumed, header, read_event, settle
from app.schemas.events import (
    Event,
    JobCompletedData,
    JobFailedData,
    PredictionMadeData,
)

logger = logging.getLogger(__name__)


@dataclass
class ModelCounts:
    predictions: int = 0
    labels: dict[str, int] = field(default_factory=dict)
    versions: dict[str, int] = field(default_factory=dict)
    jobs_completed: int = 0
    jobs_failed: int = 0


@dataclass
class AnalyticsSnapshot:
    models: dict[str, ModelCounts] = field(default_factory=dict)
    events: dict[str, int] = field(default_factory=dict)


# (model, metric, key, delta); `key` is the label or version for those metrics, else "".
Effect = tuple[str, str, str, int]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS processed_events (
    id TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    recorded_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS event_counts (
    type TEXT PRIMARY KEY,
    count INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS model_counts (
    model TEXT NOT NULL,
    metric TEXT NOT NULL,
    key TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (model, metric, key)
);
"""


def event_effects(event: Event) -> list[Effect]:
    """The per-model counts an event adds; none for event types without per-model meaning."""
    data = event.data
    if isinstance(data, PredictionMadeData):
        return [
            (data.model, "predictions", "", data.count),
            (data.model, "version", data.version, data.count),
            *((data.model, "label", label, count) for label, count in data.labels.items()),
        ]
    if isinstance(data, JobCompletedData):
        return [(data.model, "jobs_completed", "", 1)]
    if isinstance(data, JobFailedData):
        return [(data.model, "jobs_failed", "", 1)]
    return []


class AnalyticsStore:
    """SQLite (WAL) in one file. Calls may come from worker threads; one lock serialises them."""

    # Event ids are kept long past any redelivery (RabbitMQ gives up on an unacked delivery after 30 min).
    PROCESSED_ID_RETENTION_S = 7 * 24 * 3600

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None

    def _open(self) -> sqlite3.Connection:
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=5.0, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)
            cutoff = int(time.time()) - self.PROCESSED_ID_RETENTION_S
            db.execute("DELETE FROM processed_events WHERE recorded_at < ?", (cutoff,))
            self._db = db
        return self._db

    def record(self, event: Event) -> bool:
        """Count `event` unless its id was counted before; False for such a duplicate."""
        with self._lock:
            db = self._open()
            db.execute("BEGIN IMMEDIATE")
            try:
                inserted = db.execute(
                    "INSERT OR IGNORE INTO processed_events (id, type, recorded_at) VALUES (?, ?, ?)",
                    (str(event.envelope.id), event.envelope.type, int(time.time())),
                ).rowcount
                if inserted:
                    db.execute(
                        "INSERT INTO event_counts (type, count) VALUES (?, 1)"
                        " ON CONFLICT (type) DO UPDATE SET count = count + 1",
                        (event.envelope.type,),
                    )
                    db.executemany(
                        "INSERT INTO model_counts (model, metric, key, count) VALUES (?, ?, ?, ?)"
                        " ON CONFLICT (model, metric, key) DO UPDATE SET count = count + excluded.count",
                        [effect for effect in event_effects(event) if effect[3]],
                    )
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
            return bool(inserted)

    def snapshot(self) -> AnalyticsSnapshot:
        with self._lock:
            db = self._open()
            events = dict(db.execute("SELECT type, count FROM event_counts ORDER BY type"))
            rows = db.execute("SELECT model, metric, key, count FROM model_counts ORDER BY model, metric, key")
            models: dict[str, ModelCounts] = {}
            for model, metric, key, count in rows:
                counts = models.setdefault(model, ModelCounts())
                if metric == "label":
                    counts.labels[key] = count
                elif metric == "version":
                    counts.versions[key] = count
                elif metric in ("predictions", "jobs_completed", "jobs_failed"):
                    setattr(counts, metric, count)
        return AnalyticsSnapshot(models, events)

    def close(self) -> None:
        with self._lock:
            db, self._db = self._db, None
            if db is not None:
                db.close()


class AnalyticsConsumer:
    PREFETCH = 50
    # A requeued message comes back at once; pausing first keeps a failing disk from turning into a busy loop.
    REQUEUE_DELAY_S = 1.0

    def __init__(self, store: AnalyticsStore, tracer: Tracer, *, exchange_name: str, queue_name: str) -> None:
        self.store = store
        self.queue_name = queue_name
        self._tracer = tracer
        self._exchange_name = exchange_name
        self._channel: AbstractRobustChannel | None = None
        self._queue: AbstractRobustQueue | None = None
        self._consumer_tag: str | None = None
        self._in_flight: set[asyncio.Task[object]] = set()

    @property
    def consuming(self) -> bool:
        return self._consumer_tag is not None

    async def attach(self, connection: AbstractRobustConnection) -> None:
        """Declare the exchange, our queue and its binding (idempotent), then consume. The robust channel
        replays all of it after a reconnect."""
        # Kept: the robust connection holds its channels weakly and restores only those still alive.
        self._channel = channel = await connection.channel()
        await channel.set_qos(prefetch_count=self.PREFETCH)
        exchange = await channel.declare_exchange(self._exchange_name, aio_pika.ExchangeType.FANOUT, durable=True)
        queue = await channel.declare_queue(self.queue_name, durable=True)
        await queue.bind(exchange)
        self._queue = queue
        self._consumer_tag = await queue.consume(self.handle)

    async def handle(self, message: AbstractIncomingMessage) -> None:
        """Record one delivery, then settle it: ack, reject (unparsable) or requeue (storage failed)."""
        task = asyncio.current_task()
        if task is not None:
            self._in_flight.add(task)
        count_consumed(self.queue_name)
        try:
            with self._tracer.start_as_current_span(
                f"process {self.queue_name}",
                SPAN_KIND_CONSUMER,
                parent=parse_traceparent(header(message, "traceparent")),
                attributes=self._span_attributes(message),
            ) as span:
                event = await read_event(message, span)
                if event is None:
                    return
                try:
                    recorded = await asyncio.to_thread(self.store.record, event)
                except sqlite3.OperationalError as error:  # locked, busy, I/O, disk full: worth another try
                    logger.warning("recording event %s failed, requeueing it: %s", event.envelope.id, error)
                    span.set_error(type(error).__name__)
                    await asyncio.sleep(self.REQUEUE_DELAY_S)
                    await settle(message.nack(requeue=True))
                    return
                except Exception as error:
                    # Not transient: requeueing would spin on this message forever.
                    logger.exception("recording event %s failed; dropping it", event.envelope.id)
                    span.set_error(type(error).__name__)
                    await settle(message.reject(requeue=False))
                    return
                if not recorded:
                    logger.info("event %s was counted before; ignoring it", event.envelope.id)
                span.attributes["event.duplicate"] = not recorded
                await settle(message.ack())
        finally:
            if task is not None:
                self._in_flight.discard(task)

    def _span_attributes(self, message: AbstractIncomingMessage) -> dict[str, AttributeValue]:
        return consumer_span_attributes(message, queue=self.queue_name, exchange=self._exchange_name)

    async def stop(self, timeout: float) -> None:
        """Stop taking deliveries, then give those in flight `timeout` seconds to finish."""
        queue, tag = self._queue, self._consumer_tag
        self._consumer_tag = None
        if queue is not None and tag is not None:
            try:
                await asyncio.wait_for(queue.cancel(tag), timeout)
            except Exception as error:  # noqa: BLE001 - the broker may be gone; nothing more arrives then either
                logger.info("cancelling the consumer failed: %r", error)
        if self._in_flight:
            await asyncio.wait(set(self._in_flight), timeout=timeout)

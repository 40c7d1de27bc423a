"""The analytics consumer: counts the events on the `events` exchange into the analytics store (SQLite or
PostgreSQL, app/messaging/analytics_store.py), each event once.

Queue `events.analytics` (durable, bound to `events`) with manual acks. A message (one event or a batch of them) is
acked only after its counts are committed, all of its events in one transaction, and each event id is recorded in
that transaction, so a redelivery (after a crash, a lost ack or a reconnect) changes nothing: the effect is exactly
once. Messages that arrive while a transaction is being written share the next one (group commit, as the Worker's
submissions do); when a shared transaction fails, each of its messages is written again alone, so one bad message
fails alone.
"""

from __future__ import annotations

import asyncio
import logging
from typing import NamedTuple

import aio_pika
from aio_pika.abc import (
    AbstractIncomingMessage,
    AbstractRobustChannel,
    AbstractRobustConnection,
    AbstractRobustQueue,
)

from app.core.telemetry import SPAN_KIND_CONSUMER, AttributeValue, Tracer, parse_traceparent
from app.messaging.analytics_store import AnalyticsSnapshot, AnalyticsStore, ModelCounts, event_effects
from app.messaging.delivery import (
    BatchedAcks,
    consumer_callback,
    consumer_span_attributes,
    count_consumed,
    header,
    read_events,
    settle,
)
from app.schemas.events import Event

__all__ = ["AnalyticsConsumer", "AnalyticsSnapshot", "AnalyticsStore", "ModelCounts", "event_effects"]

logger = logging.getLogger(__name__)


class _Waiting(NamedTuple):
    """A delivery's events waiting for a transaction, and who waits for the outcome."""

    events: list[Event]
    future: asyncio.Future[list[bool]]
    message: AbstractIncomingMessage


def _described(events: list[Event]) -> str:
    first = events[0].envelope.id
    return f"event {first}" if len(events) == 1 else f"{len(events)} events ({first}, ...)"


class AnalyticsConsumer:
    PREFETCH = 50
    # A requeued message comes back at once; pausing first keeps a failing disk from turning into a busy loop.
    REQUEUE_DELAY_S = 1.0
    # The most events one transaction records (the prefetch bounds how many wait anyway); a message with more is
    # recorded alone, never split: its ack covers all of it.
    MAX_BATCH = 100

    def __init__(self, store: AnalyticsStore, tracer: Tracer, *, exchange_name: str, queue_name: str) -> None:
        self.store = store
        self.queue_name = queue_name
        self._tracer = tracer
        self._exchange_name = exchange_name
        self._channel: AbstractRobustChannel | None = None
        self._queue: AbstractRobustQueue | None = None
        self._consumer_tag: str | None = None
        self._in_flight: set[asyncio.Task[object]] = set()
        self._waiting: list[_Waiting] = []
        self._acks = BatchedAcks()
        self._writer: asyncio.Task[None] | None = None

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
        self._consumer_tag = await queue.consume(consumer_callback(self.handle))

    async def handle(self, message: AbstractIncomingMessage) -> None:
        """Record one delivery's events, then settle it: acked with the others of its transaction once they committed
        (one `multiple` ack), or alone: rejected (unparsable) or requeued (storage failed)."""
        task = asyncio.current_task()
        if task is not None:
            self._in_flight.add(task)
        self._acks.take(message)  # before any await: deliveries are taken in the order the channel numbers them
        committed = False
        count_consumed(self.queue_name)
        try:
            with self._tracer.start_as_current_span(
                f"process {self.queue_name}",
                SPAN_KIND_CONSUMER,
                parent=parse_traceparent(header(message, "traceparent")),
                attributes=self._span_attributes(message),
            ) as span:
                events = await read_events(message, span)
                if events is None:
                    return
                try:
                    recorded = await self._record(events, message)
                except self.store.transient_errors as error:  # locked, busy, I/O, a lost connection: worth another try
                    logger.warning("recording %s failed, requeueing it: %s", _described(events), error)
                    span.set_error(type(error).__name__)
                    await asyncio.sleep(self.REQUEUE_DELAY_S)
                    await settle(message, "nack", requeue=True)
                    return
                except Exception as error:
                    # Not transient: requeueing would spin on this message forever.
                    logger.exception("recording %s failed; dropping it", _described(events))
                    span.set_error(type(error).__name__)
                    await settle(message, "reject", requeue=False)
                    return
                committed = True  # and acknowledged by the writer, with the rest of its transaction
                duplicates = [event for event, counted in zip(events, recorded) if not counted]
                for event in duplicates:
                    logger.info("event %s was counted before; ignoring it", event.envelope.id)
                span.attributes["event.duplicate"] = len(duplicates) == len(events)  # the message changed nothing
                if len(events) > 1:
                    span.attributes["event.duplicate_count"] = len(duplicates)
        finally:
            if not committed and (ack := self._acks.release(message)) is not None:
                # Settled alone (or cancelled): the committed deliveries it held back are acknowledged now.
                await settle(ack, "ack", multiple=True)
            if task is not None:
                self._in_flight.discard(task)

    async def _record(self, events: list[Event], message: AbstractIncomingMessage) -> list[bool]:
        """For each event, whether this delivery counted it (False: counted before), once its transaction
        committed."""
        future: asyncio.Future[list[bool]] = asyncio.get_running_loop().create_future()
        self._waiting.append(_Waiting(events, future, message))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.ensure_future(self._write_waiting())
        return await future

    async def _write_waiting(self) -> None:
        while self._waiting:
            batch = self._next_batch()
            try:
                await self._write(batch)
            finally:
                for waiting in batch:  # cancelled mid-write (shutdown): nobody is left waiting
                    if not waiting.future.done():
                        waiting.future.cancel()

    def _next_batch(self) -> list[_Waiting]:
        """The waiting deliveries the next transaction records: as many as fit in MAX_BATCH events, at least one."""
        taken = size = 0
        for waiting in self._waiting:
            if taken and size + len(waiting.events) > self.MAX_BATCH:
                break
            taken += 1
            size += len(waiting.events)
        batch, self._waiting = self._waiting[:taken], self._waiting[taken:]
        return batch

    async def _write(self, batch: list[_Waiting]) -> None:
        events = [event for waiting in batch for event in waiting.events]
        try:
            recorded = await asyncio.to_thread(self.store.record_many, events)
        except Exception as error:
            if len(batch) > 1:
                for waiting in batch:  # nothing was counted: each alone, so only the message that fails gets the error
                    await self._write([waiting])
                return
            if not batch[0].future.done():
                batch[0].future.set_exception(error)
            return
        # Committed: one ack for the whole transaction (and whatever committed before it and waited for it).
        for ack in self._acks.done([waiting.message for waiting in batch]):
            await settle(ack, "ack", multiple=True)
        start = 0
        for waiting in batch:
            end = start + len(waiting.events)
            if not waiting.future.done():
                waiting.future.set_result(recorded[start:end])
            start = end

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

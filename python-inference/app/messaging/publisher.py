"""`prediction.made` events: predictions are counted in memory on the request path (app/ml/counter.py, no I/O) and
a background task publishes the counts, one event per model version, every `EVENTS_FLUSH_INTERVAL`
seconds or as soon as `EVENTS_FLUSH_MAX_PREDICTIONS` are pending.

An event the broker did not confirm may have reached it all the same (the confirm was lost, or the flush was cancelled
while waiting for it), so it is kept as it is and sent again, with its own id, at the next flush; consumers record an
event once per id, so it counts once whatever happened to it. New counts of its model version wait in the counter
until it is settled. Memory stays bounded by models x versions x labels, whatever the broker does: at most one
unconfirmed event per model version, and the counter.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from typing import Protocol

import aio_pika
from aio_pika.abc import AbstractRobustChannel, AbstractRobustConnection

from app.core.telemetry import SPAN_KIND_PRODUCER, AttributeValue, Span, Tracer, instruments
from app.ml.counter import ModelVersion, PredictionCounter
from app.schemas.events import PREDICTION_MADE, EventEnvelope, PredictionMadeData, encode_event, new_event

logger = logging.getLogger(__name__)

SOURCE = "python-inference"


class EventExchange(Protocol):
    """What the publisher needs of aio-pika's exchange (a fake in the unit tests)."""

    async def publish(self, message: aio_pika.Message, routing_key: str, *, mandatory: bool = ...) -> object: ...


def event_message(envelope: EventEnvelope, traceparent: str | None) -> aio_pika.Message:
    return aio_pika.Message(
        encode_event(envelope),
        content_type="application/json",
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        type=envelope.type,
        message_id=str(envelope.id),
        timestamp=envelope.occurred_at,
        headers={"traceparent": traceparent} if traceparent else {},
    )


class PredictionPublisher:
    PUBLISH_TIMEOUT_S = 5.0

    def __init__(
        self,
        counter: PredictionCounter,
        tracer: Tracer,
        *,
        exchange_name: str,
        flush_interval: float,
    ) -> None:
        self._counter = counter
        self._tracer = tracer
        self._exchange_name = exchange_name
        self._flush_interval = flush_interval
        self._channel: AbstractRobustChannel | None = None
        self._exchange: EventExchange | None = None
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._failing = False
        # Sent but not confirmed, by model version: sent again, unchanged, before any new event of that version.
        self._unconfirmed: dict[ModelVersion, aio_pika.Message] = {}

    @property
    def unconfirmed(self) -> int:
        """Events sent without a confirm, kept to be sent again with their ids."""
        return len(self._unconfirmed)

    async def attach(self, connection: AbstractRobustConnection) -> None:
        """Declare the exchange on a channel of our own; publisher confirms are on (aio-pika's default)."""
        # Kept: the robust connection holds its channels weakly and restores only those still alive.
        self._channel = channel = await connection.channel(publisher_confirms=True)
        self.use_exchange(
            await channel.declare_exchange(self._exchange_name, aio_pika.ExchangeType.FANOUT, durable=True)
        )

    def use_exchange(self, exchange: EventExchange) -> None:
        self._exchange = exchange

    def start(self) -> None:
        self._stopping = False
        self._wake = wake = asyncio.Event()
        self._counter.on_threshold = wake.set
        self._task = asyncio.create_task(self._run(), name="prediction-events-flush")

    async def _run(self) -> None:
        assert self._wake is not None
        # `stop` cancels this task, but Python 3.11's `asyncio.wait_for` loses a cancellation that arrives as its
        # awaitable completes (the publish's confirm, say); the loop would then wait a whole interval more and `stop`
        # with it. The flag ends the loop whatever became of the cancellation.
        while not self._stopping:
            try:
                await asyncio.wait_for(self._wake.wait(), self._flush_interval)
            except asyncio.TimeoutError:
                pass
            self._wake.clear()
            if not await self.flush() and not self._stopping:
                # The broker is unreachable: wait a whole interval rather than retry on every prediction.
                await asyncio.sleep(self._flush_interval)

    async def flush(self) -> bool:
        """Publish the unconfirmed events again, then what is pending, one event per model version; False when some
        of it was kept back."""
        exchange = self._exchange
        if exchange is None:
            return not self._unconfirmed and self._counter.pending == 0
        again = dict(self._unconfirmed)
        counts = self._counter.take()
        # A version whose last event is unconfirmed gets no new one until that is settled (at most one in doubt each).
        held = {key: labels for key, labels in counts.items() if key in again}
        self._counter.merge_back(held)
        fresh = {key: labels for key, labels in counts.items() if key not in again}
        if not again and not fresh:
            return True
        # Semantic conventions 1.27 (messaging, RabbitMQ): the destination is the exchange; a fanout's routing key
        # is empty, so it is left out. The operation type of sending is `send` (`publish` is its deprecated name, and
        # the Worker writes `send` too); `publish` stays as the operation's name.
        attributes: dict[str, AttributeValue] = {
            "messaging.system": "rabbitmq",
            "messaging.operation.type": "send",
            "messaging.operation.name": "publish",
            "messaging.destination.name": self._exchange_name,
        }
        if len(again) + len(fresh) > 1:
            attributes["messaging.batch.message_count"] = len(again) + len(fresh)
        unsent = dict(fresh)  # merged back unless made into an event (should making one raise)
        failed = 0
        try:
            with self._tracer.start_as_current_span(
                f"publish {self._exchange_name}", SPAN_KIND_PRODUCER, attributes=attributes
            ) as span:
                for key, labels in fresh.items():
                    again[key] = self._unconfirmed[key] = self._event(key, labels, span)
                    del unsent[key]  # from here on it may reach the broker: it is sent again, never re-counted
                if len(again) == 1:
                    span.attributes["messaging.message.id"] = next(iter(again.values())).message_id or ""
                for key, message in again.items():
                    if await self._publish(exchange, message):
                        del self._unconfirmed[key]
                    else:
                        failed += 1
                if failed:
                    span.set_error(f"{failed} of {len(again)} events not confirmed")
        finally:
            self._counter.merge_back(unsent)
        return not failed

    def _event(self, key: ModelVersion, labels: Counter[str], span: Span) -> aio_pika.Message:
        data = PredictionMadeData(
            model=key.model, version=key.version, count=sum(labels.values()), labels=dict(labels)
        )
        return event_message(new_event(PREDICTION_MADE, data, source=SOURCE), span.traceparent)

    async def _publish(self, exchange: EventExchange, message: aio_pika.Message) -> bool:
        sent = {
            "messaging.system": "rabbitmq",
            "messaging.operation.name": "publish",
            "messaging.destination.name": self._exchange_name,
        }
        try:
            # The routing key is the event's type: the fanout ignores it, `events.by-type` routes by it.
            # mandatory=False: an event nobody subscribed to is not an error for a fanout exchange.
            publish = exchange.publish(message, routing_key=PREDICTION_MADE, mandatory=False)
            await asyncio.wait_for(publish, self.PUBLISH_TIMEOUT_S)
        except Exception as error:  # noqa: BLE001 - never lose counts, whatever went wrong
            # Once per outage, not once per flush.
            log = logger.debug if self._failing else logger.warning
            log("publishing prediction.made failed, the event is kept and sent again: %r", error)
            self._failing = True
            instruments.MESSAGING_SENT.add(1, {**sent, "error.type": type(error).__qualname__})
            return False
        instruments.MESSAGING_SENT.add(1, sent)
        if self._failing:
            logger.info("publishing prediction.made events again")
            self._failing = False
        return True

    async def stop(self, timeout: float) -> None:
        """Stop the flush loop, then publish what is pending once, within `timeout` seconds."""
        if self._task is not None:
            self._stopping = True
            if self._wake is not None:
                self._wake.set()
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        self._counter.on_threshold = None
        try:
            await asyncio.wait_for(self.flush(), timeout)
        except asyncio.TimeoutError:
            pass
        if self._counter.pending:
            logger.warning("%d predictions were not published as prediction.made events", self._counter.pending)

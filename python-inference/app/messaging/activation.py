"""The activation consumer: on `model.activated` (published by the Worker's model registry on the `events`
exchange) this replica serves the named version from its next request on.

Every replica must switch, so each consumes from a queue of its own, `events.models.<random>`: exclusive and
auto-deleted (it lives as long as this replica's connection). It is bound to `events.by-type`, the topic exchange
behind the fanout (the Worker declares the same), by the routing key `model.activated`: the broker routes every
event there and delivers this queue only activations, not every job's and prediction's event. It is also bound by
the empty key, which an event published by a build before routing keys carries, so an activation from such a
Worker is not missed during an upgrade (any other event that comes that way is acked and ignored). The robust channel
re-declares the queue under the same name, re-binds and re-consumes after a reconnect. Events published while
the connection was down are missed; the version served then is the one in force before the outage, until the next
activation (or a restart, which asks the registry: app/worker/registration.py).
"""

from __future__ import annotations

import asyncio
import logging
import secrets

import aio_pika
from aio_pika.abc import (
    AbstractIncomingMessage,
    AbstractRobustChannel,
    AbstractRobustConnection,
    AbstractRobustQueue,
)

from app.core.telemetry import SPAN_KIND_CONSUMER, Tracer, parse_traceparent
from app.messaging.delivery import (
    consumer_callback,
    consumer_span_attributes,
    count_consumed,
    header,
    read_events,
    settle,
)
from app.ml.registry import ModelNotFoundError, ModelRegistry, VersionNotFoundError
from app.schemas.events import MODEL_ACTIVATED, ModelActivatedData

logger = logging.getLogger(__name__)

QUEUE_PREFIX = "events.models."
# Spans and metrics name every replica's queue by this template, not by its random name.
QUEUE_TEMPLATE = "events.models.{replica}"
# The events this queue is bound for on the topic exchange (see above).
ROUTING_KEYS = (MODEL_ACTIVATED, "")


def by_type_exchange_name(exchange_name: str) -> str:
    """The topic exchange bound to the events fanout, where a consumer binds for some events by routing key."""
    return f"{exchange_name}.by-type"


class ActivationConsumer:
    PREFETCH = 10

    def __init__(self, registry: ModelRegistry, tracer: Tracer, *, exchange_name: str) -> None:
        self.registry = registry
        self.queue_name = f"{QUEUE_PREFIX}{secrets.token_hex(6)}"
        self._tracer = tracer
        self._exchange_name = exchange_name
        self._channel: AbstractRobustChannel | None = None
        self._queue: AbstractRobustQueue | None = None
        self._consumer_tag: str | None = None

    @property
    def consuming(self) -> bool:
        return self._consumer_tag is not None

    async def attach(self, connection: AbstractRobustConnection) -> None:
        """Declare the exchange and this replica's queue, bind and consume; replayed after a reconnect."""
        # Kept: the robust connection holds its channels weakly and restores only those still alive.
        self._channel = channel = await connection.channel()
        await channel.set_qos(prefetch_count=self.PREFETCH)
        exchange = await channel.declare_exchange(self._exchange_name, aio_pika.ExchangeType.FANOUT, durable=True)
        by_type = await channel.declare_exchange(
            by_type_exchange_name(self._exchange_name), aio_pika.ExchangeType.TOPIC, durable=True
        )
        await by_type.bind(exchange)
        queue = await channel.declare_queue(self.queue_name, exclusive=True, auto_delete=True)
        for key in ROUTING_KEYS:
            await queue.bind(by_type, routing_key=key)
        self._queue = queue
        self._consumer_tag = await queue.consume(consumer_callback(self.handle))

    async def handle(self, message: AbstractIncomingMessage) -> None:
        """Switch on each model.activated of the message; ack everything else (other consumers own it) and what cannot
        apply here."""
        count_consumed(QUEUE_TEMPLATE)
        with self._tracer.start_as_current_span(
            f"process {QUEUE_TEMPLATE}",
            SPAN_KIND_CONSUMER,
            parent=parse_traceparent(header(message, "traceparent")),
            attributes=consumer_span_attributes(
                message, queue=self.queue_name, exchange=self._exchange_name, queue_template=QUEUE_TEMPLATE
            ),
        ) as span:
            events = await read_events(message, span)
            if events is None:
                return
            for event in events:  # in order: of two activations of one model, the later wins
                data = event.data
                if isinstance(data, ModelActivatedData):
                    span.attributes["ml.model.name"] = data.model
                    span.attributes["ml.model.version"] = data.version
                    self._activate(data)
            await settle(message, "ack")

    def _activate(self, data: ModelActivatedData) -> None:
        try:
            switched = self.registry.activate(data.model, data.version)
        except ModelNotFoundError:
            logger.warning("model.activated for %s %s: no such model here; ignored", data.model, data.version)
            return
        except VersionNotFoundError as error:
            logger.warning(
                "model.activated for %s %s: this replica has only %s; still serving %s",
                data.model,
                data.version,
                ", ".join(error.known),
                self.registry.get(data.model).version,
            )
            return
        if not switched:
            logger.info("model.activated for %s %s: served already", data.model, data.version)

    async def stop(self, timeout: float) -> None:
        queue, tag = self._queue, self._consumer_tag
        self._consumer_tag = None
        if queue is not None and tag is not None:
            try:
                await asyncio.wait_for(queue.cancel(tag), timeout)
            except Exception as error:  # noqa: BLE001 - the broker may be gone; the queue goes with the connection
                logger.info("cancelling the activation consumer failed: %r", error)

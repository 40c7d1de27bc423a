"""What every consumer does with a delivery besides its own work: describe it on its span and count it, read a
header, read the event, settle it."""

from __future__ import annotations

import logging
from collections.abc import Awaitable

from aio_pika.abc import AbstractIncomingMessage

from app.core.telemetry import AttributeValue, Span, instruments
from app.schemas.events import Event, InvalidEventError, parse_event

logger = logging.getLogger(__name__)


def consumer_span_attributes(
    message: AbstractIncomingMessage, *, queue: str, exchange: str, queue_template: str | None = None
) -> dict[str, AttributeValue]:
    """A `process <queue>` span's attributes (semantic conventions 1.27). The destination is the queue consumed from,
    the exchange it was published to is `destination_publish`; a replica's own, auto-named queue also has the
    template that names its span."""
    attributes: dict[str, AttributeValue] = {
        "messaging.system": "rabbitmq",
        "messaging.operation.type": "process",
        "messaging.operation.name": "process",
        "messaging.destination.name": queue,
        "messaging.destination_publish.name": exchange,
        "messaging.message.redelivered": bool(message.redelivered),
    }
    if queue_template is not None:
        attributes["messaging.destination.template"] = queue_template
        attributes["messaging.destination.temporary"] = True
        attributes["messaging.destination.anonymous"] = True
    if message.message_id:
        attributes["messaging.message.id"] = message.message_id
    if message.routing_key:
        attributes["messaging.rabbitmq.destination.routing_key"] = message.routing_key
    if message.delivery_tag is not None:
        attributes["messaging.rabbitmq.message.delivery_tag"] = int(message.delivery_tag)
    return attributes


def count_consumed(queue: str) -> None:
    instruments.MESSAGING_CONSUMED.add(
        1,
        {"messaging.system": "rabbitmq", "messaging.operation.name": "process", "messaging.destination.name": queue},
    )


def header(message: AbstractIncomingMessage, name: str) -> str | None:
    value = (message.headers or {}).get(name)
    if isinstance(value, bytes):
        return value.decode("latin-1")
    return value if isinstance(value, str) else None


async def settle(outcome: Awaitable[None]) -> None:
    """Ack/nack/reject; on a channel that closed meanwhile the broker redelivers, which is harmless."""
    try:
        await outcome
    except Exception as error:  # noqa: BLE001
        logger.info("could not settle a delivery (the broker will redeliver it): %r", error)


async def read_event(message: AbstractIncomingMessage, span: Span) -> Event | None:
    """The delivery's event, named on its consumer span; an unparsable one is rejected (dead-lettered) and None."""
    try:
        event = parse_event(message.body)
    except InvalidEventError as error:
        logger.warning("dropping an unparsable event (message_id %s): %s", message.message_id, error)
        span.set_error("invalid event")
        await settle(message.reject(requeue=False))
        return None
    span.attributes["messaging.message.id"] = str(event.envelope.id)
    span.attributes["event.type"] = event.envelope.type
    return event

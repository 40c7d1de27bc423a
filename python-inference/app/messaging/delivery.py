"""What every consumer does with a delivery besides its own work: read a header, read the event, settle it."""

from __future__ import annotations

import logging
from collections.abc import Awaitable

from aio_pika.abc import AbstractIncomingMessage

from app.core.telemetry import Span
from app.schemas.events import Event, InvalidEventError, parse_event

logger = logging.getLogger(__name__)


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

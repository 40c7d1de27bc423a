"""What every consumer does with a delivery besides its own work: read a header, settle it."""

from __future__ import annotations

import logging
from collections.abc import Awaitable

from aio_pika.abc import AbstractIncomingMessage

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

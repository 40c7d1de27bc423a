"""Messaging as one unit started and stopped with the app: the broker connection, the
`prediction.made` publisher, the analytics consumer and the activation consumer. Present only when a broker is
configured."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from app.core.config import Settings
from app.core.telemetry import Tracer
from app.messaging.activation import ActivationConsumer
from app.messaging.analytics import AnalyticsConsumer, AnalyticsSnapshot, AnalyticsStore
from app.messaging.connection import BrokerConnection
from app.messaging.publisher import PredictionCounter, PredictionPublisher
from app.ml.registry import ModelRegistry

logger = logging.getLogger(__name__)


class Messaging:
    # Shutdown budget per step (finishing deliveries in flight, the final flush, closing the connection, closing the
    # store), so a dead or stalled broker or database cannot hold the loop.
    STOP_TIMEOUT_S = 3.0

    def __init__(
        self, settings: Settings, counter: PredictionCounter, tracer: Tracer, registry: ModelRegistry
    ) -> None:
        assert settings.MESSAGING_URL, "Messaging needs a broker URL"
        self.publisher = PredictionPublisher(
            counter,
            tracer,
            exchange_name=settings.EVENTS_EXCHANGE,
            flush_interval=settings.EVENTS_FLUSH_INTERVAL,
        )
        self.consumer = AnalyticsConsumer(
            AnalyticsStore.from_settings(settings),
            tracer,
            exchange_name=settings.EVENTS_EXCHANGE,
            queue_name=settings.ANALYTICS_QUEUE,
        )
        self.activation = ActivationConsumer(registry, tracer, exchange_name=settings.EVENTS_EXCHANGE)
        self._preparing: asyncio.Task[None] | None = None
        self.connection = BrokerConnection(
            settings.MESSAGING_URL,
            connection_name=settings.OTEL_SERVICE_NAME,
            # The publisher attaches last: its first flush may come at once, and an event published before this
            # service's own queues are declared and bound is routed nowhere and lost (on a first start, say).
            on_connected=[self.consumer.attach, self.activation.attach, self.publisher.attach],
        )

    @property
    def consumer_connected(self) -> bool:
        return self.connection.connected and self.consumer.consuming

    async def analytics(self) -> AnalyticsSnapshot:
        return await asyncio.to_thread(self.consumer.store.snapshot)

    async def start(self) -> None:
        """Returns at once: the connection is made in the background, with back-off, and the analytics store
        prepared beside it."""
        self._preparing = asyncio.create_task(self._prepare_store())
        self.publisher.start()
        self.connection.start()

    async def _prepare_store(self) -> None:
        """The analytics database connected and migrated (created, on a PostgreSQL server without it) at start, so a
        refusal is in the log at once. A failure stops nothing: predictions need no analytics, and the consumer's
        writes try again, each delivery waiting in the queue meanwhile."""
        try:
            await asyncio.to_thread(self.consumer.store.prepare)
        except Exception as error:  # noqa: BLE001 - reported; the consumer's next write tries again
            logger.warning("the analytics database is not ready yet: %s", error)

    async def stop(self) -> None:
        """Stop consuming and let deliveries in flight finish, publish pending counts once, then close."""
        if self._preparing is not None:
            self._preparing.cancel()  # not waited for here: closing the store, last, waits for its lock
        await self.activation.stop(self.STOP_TIMEOUT_S)
        await self.consumer.stop(self.STOP_TIMEOUT_S)
        await self.publisher.stop(self.STOP_TIMEOUT_S)
        await self.connection.close(self.STOP_TIMEOUT_S)
        # Off the loop and within the budget: a preparation still connecting (to a database that does not answer)
        # holds the store's lock until its connect times out.
        closing = asyncio.ensure_future(asyncio.to_thread(self.consumer.store.close))
        await asyncio.wait({closing}, timeout=self.STOP_TIMEOUT_S)

    @asynccontextmanager
    async def lifespan(self, app: Any) -> AsyncIterator[None]:
        await self.start()
        try:
            yield
        finally:
            await self.stop()

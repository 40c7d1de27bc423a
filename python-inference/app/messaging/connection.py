"""One robust AMQP connection to the broker, opened in the background so the service starts and
serves predictions while RabbitMQ is down.

- The first connection is retried here with exponential back-off (aio-pika's `connect_robust` gives up
  at once when the very first attempt fails).
- After that aio-pika reconnects by itself every `RECONNECT_INTERVAL_S` and restores each robust
  channel: its prefetch, the exchanges and queues declared on it, their bindings and consumers. So the
  `on_connected` steps (declare, bind, consume) run once; their effect is replayed on every reconnect.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Sequence

import aio_pika
from aio_pika.abc import AbstractRobustConnection
from yarl import URL

from app.messaging import frames

logger = logging.getLogger(__name__)

ConnectedStep = Callable[[AbstractRobustConnection], Awaitable[None]]


def amqp_url(url: str, *, connection_name: str, reconnect_interval: float) -> URL:
    """The broker URL with aio-pika's options added. Aspire's `amqp://user:pass@host:port` has no path,
    which like a bare `/` means the default vhost `/`; an explicit vhost path is kept."""
    parsed = URL(url)
    if not parsed.path:
        parsed = parsed.with_path("/")
    return parsed.update_query(name=connection_name, reconnect_interval=str(reconnect_interval))


class BrokerConnection:
    INITIAL_BACKOFF_S = 0.5
    MAX_BACKOFF_S = 10.0
    RECONNECT_INTERVAL_S = 1.0
    CONNECT_TIMEOUT_S = 5.0
    CLOSE_TIMEOUT_S = 5.0

    def __init__(self, url: str, *, connection_name: str, on_connected: Sequence[ConnectedStep]) -> None:
        self._url = amqp_url(url, connection_name=connection_name, reconnect_interval=self.RECONNECT_INTERVAL_S)
        frames.install()  # the cheaper frame reader (app/messaging/frames.py), for this connection and any after it
        self._on_connected = list(on_connected)
        self._connection: AbstractRobustConnection | None = None
        self._task: asyncio.Task[None] | None = None
        self.reconnects = 0

    @property
    def display_url(self) -> str:
        """The address without password or options, for logs."""
        url = self._url.with_query(None)
        return str(url.with_password("******") if url.password is not None else url)

    @property
    def connected(self) -> bool:
        connection = self._connection
        return connection is not None and not connection.is_closed and connection.connected.is_set()

    def start(self) -> None:
        """Start connecting in the background; returns at once."""
        self._task = asyncio.create_task(self._connect(), name="broker-connect")

    async def _connect(self) -> None:
        backoff = self.INITIAL_BACKOFF_S
        attempt = 1
        while True:
            connection: AbstractRobustConnection | None = None
            try:
                connection = await aio_pika.connect_robust(self._url, timeout=self.CONNECT_TIMEOUT_S)
                for step in self._on_connected:
                    await step(connection)
            except asyncio.CancelledError:
                if connection is not None:
                    await connection.close()
                raise
            except Exception as error:  # noqa: BLE001 - any failure means "try again later"
                if connection is not None:
                    await asyncio.gather(connection.close(), return_exceptions=True)
                delay = backoff * random.uniform(0.8, 1.2)
                logger.warning(
                    "broker at %s not available (attempt %d: %s); retrying in %.1f s",
                    self.display_url,
                    attempt,
                    str(error) or type(error).__name__,
                    delay,
                )
                await asyncio.sleep(delay)
                backoff = min(backoff * 2, self.MAX_BACKOFF_S)
                attempt += 1
                continue
            connection.reconnect_callbacks.add(self._on_reconnected)
            self._connection = connection
            logger.info("connected to the broker at %s", self.display_url)
            return

    def _on_reconnected(self, *_: object) -> None:
        self.reconnects += 1
        logger.info("reconnected to the broker at %s (channels, queues and consumers restored)", self.display_url)

    async def close(self, timeout: float = CLOSE_TIMEOUT_S) -> None:
        """Stop connecting, then close the connection within `timeout` seconds (then it is abandoned, logged)."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        connection, self._connection = self._connection, None
        if connection is not None:
            await close_within(connection, timeout, self.display_url)


async def close_within(connection: AbstractRobustConnection, timeout: float, name: str) -> None:
    """Close a robust connection, giving up after `timeout` seconds. aio-pika's close has no limit of its own and
    waits on the socket (the writer's drain and wait_closed), on every consumer task still running on the
    connection and on its close callbacks: one of them that never ends must not hold the service's shutdown."""

    async def close() -> None:
        # aio-pika 8.2.5 goes on reconnecting after close(): fail_fast ends a retry loop in progress, and
        # a reconnect that completes while close() waits leaves a live transport for a second close().
        connection.fail_fast = True
        await connection.close()
        if connection.transport is not None:
            await connection.close()

    # asyncio.wait, not wait_for: wait_for would also wait for the cancelled close to end, which is what may not.
    closing = asyncio.ensure_future(close())
    done, _ = await asyncio.wait({closing}, timeout=timeout)
    if done:
        closing.result()
    else:
        closing.cancel()
        logger.warning("closing the connection to the broker at %s took over %.1f s; abandoned", name, timeout)

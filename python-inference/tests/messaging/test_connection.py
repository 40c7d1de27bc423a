from __future__ import annotations

import asyncio

import aiormq
import pytest

from app.messaging.connection import BrokerConnection, amqp_url, close_within
from tests.messaging.broker import USER, RabbitMQNode, TcpForwarder, free_port
from tests.support import wait_until_async


def vhost_seen_by_aiormq(url: str) -> str:
    async def vhost() -> str:
        return aiormq.Connection(amqp_url(url, connection_name="test", reconnect_interval=1.0)).vhost

    return asyncio.run(vhost())


@pytest.mark.parametrize("url", ["amqp://aspire:pw@127.0.0.1:5672", "amqp://aspire:pw@127.0.0.1:5672/"])
def test_aspire_urls_with_or_without_a_trailing_slash_use_the_default_vhost(url: str) -> None:
    assert vhost_seen_by_aiormq(url) == "/"


@pytest.mark.parametrize(("url", "vhost"), [("amqp://u:p@h:5672/prod", "prod"), ("amqp://u:p@h:5672/%2F", "/")])
def test_an_explicit_vhost_is_kept(url: str, vhost: str) -> None:
    assert vhost_seen_by_aiormq(url) == vhost


def test_the_url_carries_the_connection_name_and_reconnect_interval_and_keeps_the_credentials() -> None:
    url = amqp_url(
        "amqp://user:p%40ss@broker:5672?heartbeat=30", connection_name="python-inference", reconnect_interval=1.0
    )

    assert (url.user, url.password, url.host, url.port) == ("user", "p@ss", "broker", 5672)
    assert dict(url.query) == {"heartbeat": "30", "name": "python-inference", "reconnect_interval": "1.0"}


def test_logs_show_the_address_without_the_password() -> None:
    connection = BrokerConnection("amqp://user:hunter2@broker:5672", connection_name="test", on_connected=[])

    assert connection.display_url == "amqp://user:******@broker:5672"


def test_start_returns_at_once_and_close_stops_the_attempts_while_no_broker_listens(
    caplog: pytest.LogCaptureFixture,
) -> None:
    set_up: list[object] = []

    async def set_up_topology(connection: object) -> None:
        set_up.append(connection)

    async def scenario() -> bool:
        connection = BrokerConnection(
            f"amqp://u:p@127.0.0.1:{free_port()}", connection_name="test", on_connected=[set_up_topology]
        )
        connection.start()  # returns at once: the attempts run in the background
        await wait_until_async(lambda: "not available (attempt 1" in caplog.text, "a first failed attempt", timeout=15.0)
        connected = connection.connected
        await asyncio.wait_for(connection.close(), 10.0)  # a hang here would be the bug, not a slow machine
        return connected

    assert asyncio.run(scenario()) is False
    assert set_up == []  # never connected, so the set-up steps never ran


class CloseNeverEnds:
    """A robust connection whose close() never returns, as aio-pika's does while its socket never drains or a
    consumer task on it never ends."""

    fail_fast = False
    transport = None

    async def close(self) -> None:
        await asyncio.Event().wait()


def test_a_close_that_never_ends_is_abandoned_after_its_timeout(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> float:
        loop = asyncio.get_running_loop()
        started = loop.time()
        await close_within(CloseNeverEnds(), 0.5, "amqp://broker")  # type: ignore[arg-type]
        return loop.time() - started

    assert asyncio.run(scenario()) < 10.0  # seconds: wide, a loaded machine is slow, a hang is endless
    assert "closing the connection to the broker at amqp://broker took over 0.5 s; abandoned" in caplog.text


def test_closing_during_a_reconnect_leaves_no_connection_behind(broker: RabbitMQNode) -> None:
    forwarder = TcpForwarder(broker.port)  # counts the client's TCP connections as they are made
    forwarder.open()

    def connections() -> str:
        return broker.ctl("list_connections", "name", "--quiet", "--no-table-headers").strip()

    async def scenario() -> tuple[int, int]:
        url = f"amqp://{USER}:{broker.password}@127.0.0.1:{forwarder.port}"
        connection = BrokerConnection(url, connection_name="test", on_connected=[])
        connection.start()
        await wait_until_async(lambda: connection.connected, "the first connection", timeout=15.0)
        await asyncio.to_thread(broker.ctl, "close_all_connections", "closed by a test")
        await wait_until_async(lambda: not connection.connected, "the client to see the connection dropped", timeout=15.0)
        await connection.close()  # during aio-pika's reconnect pause
        attempts_at_close = forwarder.accepted
        # A leaked reconnect would open a TCP connection one reconnect interval after the drop; wait three, on the
        # same loop (the one aio-pika would reconnect on).
        await asyncio.sleep(3 * BrokerConnection.RECONNECT_INTERVAL_S)
        return attempts_at_close, forwarder.accepted

    try:
        attempts_at_close, attempts_after = asyncio.run(scenario())
        assert attempts_after == attempts_at_close, "a connection attempt was made after close()"
        assert connections() == ""
    finally:
        forwarder.close()



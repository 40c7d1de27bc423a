"""The service with messaging on, against a real RabbitMQ node (tests/messaging/conftest.py): events in
through the analytics consumer, prediction.made out through the publisher, and the connection's life
(late broker, forced disconnect, shutdown)."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import aio_pika
import psycopg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.core.telemetry import parse_traceparent
from app.main import create_app
from app.messaging.analytics import AnalyticsConsumer
from app.messaging.lifecycle import Messaging
from app.ml.registry import ModelRegistry
from tests.messaging.broker import USER, RabbitMQNode, TcpForwarder, free_port
from tests.messaging.postgres import PostgresServer
from tests.support import SETOSA, VIRGINICA, wait_until

EXCHANGE = "events"
QUEUE = "events.analytics"
POSITIVE = "I absolutely loved this movie, the acting was wonderful."
NEGATIVE = "This is the worst purchase I have ever made."


def messaging_app(settings: Settings, registry: ModelRegistry, tmp_path: Path, url: str, **overrides: Any) -> FastAPI:
    defaults: dict[str, Any] = {"ANALYTICS_DB_PATH": tmp_path / "analytics.db", "EVENTS_FLUSH_INTERVAL": 0.1}
    configured = replace(settings, MESSAGING_URL=url, **{**defaults, **overrides})
    return create_app(configured, registry)


@pytest.fixture
def service(broker: RabbitMQNode, settings: Settings, registry: ModelRegistry, tmp_path: Path) -> Iterator[FastAPI]:
    yield messaging_app(settings, registry, tmp_path, broker.url)
    run(delete_queue(broker, QUEUE))  # every test starts with an empty analytics queue


# --- what the C# Worker or another service would do on the broker ---------------------------------------


def run(coroutine: Any) -> Any:
    """The test's own AMQP client runs on a loop of its own, beside the app's (which TestClient runs)."""
    return asyncio.run(coroutine)


def event_body(
    event_type: str, data: dict[str, Any], event_id: str | None = None, *, traceparent: str | None = None
) -> bytes:
    """One event's envelope as the Worker writes it (with the trace it belongs to, when given)."""
    envelope = {
        "id": event_id or str(uuid.uuid4()),
        "type": event_type,
        "occurredAt": "2026-11-26T22:40:00.123Z",
        "source": "worker",
        "data": data,
    }
    if traceparent is not None:
        envelope["traceparent"] = traceparent
    return json.dumps(envelope).encode("utf-8")


def job_completed(model: str = "sentiment", event_id: str | None = None) -> bytes:
    data = {
        "jobId": str(uuid.uuid4()),
        "owner": "alice",
        "model": model,
        "version": "1.0.0",
        "attempts": 1,
        "predictions": [{"label": "positive", "score": 0.97}],
    }
    return event_body("job.completed", data, event_id)


def job_failed(model: str = "iris") -> bytes:
    data = {
        "jobId": str(uuid.uuid4()),
        "owner": "bob",
        "model": model,
        "attempts": 3,
        "error": {"type": "urn:problem:upstream_unavailable", "title": "Service Unavailable", "status": 503},
    }
    return event_body("job.failed", data)


def batch_body(*bodies: bytes) -> bytes:
    """Events in one message, as the Worker writes a batch: their envelopes between brackets."""
    return b"[" + b",".join(bodies) + b"]"


async def publish(broker: RabbitMQNode, *bodies: bytes) -> None:
    """Publish as the Worker does: persistent JSON with type, message id and timestamp (a batch's first event's),
    routed by the type, confirmed."""
    async with await aio_pika.connect(broker.url) as connection:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(EXCHANGE, aio_pika.ExchangeType.FANOUT, durable=True)
        for body in bodies:
            try:
                envelope = json.loads(body)
            except ValueError:
                envelope = {}
            if isinstance(envelope, list):
                envelope = envelope[0] if envelope else {}
            message = aio_pika.Message(
                body,
                content_type="application/json",
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                type=envelope.get("type"),
                message_id=envelope.get("id"),
                timestamp=datetime.now(timezone.utc),
            )
            await exchange.publish(message, routing_key=envelope.get("type") or "")


async def bind_listener(broker: RabbitMQNode) -> str:
    """A queue of the test's own on the events exchange, as any other consumer would have."""
    name = f"test.listener.{uuid.uuid4().hex[:8]}"
    async with await aio_pika.connect(broker.url) as connection:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(EXCHANGE, aio_pika.ExchangeType.FANOUT, durable=True)
        queue = await channel.declare_queue(name, durable=False, auto_delete=False)
        await queue.bind(exchange)
    return name


async def receive_prediction_events(
    broker: RabbitMQNode, queue_name: str, expected_predictions: int, timeout: float = 10.0
) -> list[aio_pika.abc.AbstractIncomingMessage]:
    """prediction.made messages from `queue_name` until they add up to `expected_predictions`."""
    received: list[aio_pika.abc.AbstractIncomingMessage] = []
    async with await aio_pika.connect(broker.url) as connection:
        channel = await connection.channel()
        queue = await channel.get_queue(queue_name)
        deadline = time.monotonic() + timeout
        while sum(json.loads(m.body)["data"]["count"] for m in received) < expected_predictions:
            assert time.monotonic() < deadline, f"only {len(received)} prediction.made events arrived"
            message = await queue.get(no_ack=True, fail=False)
            if message is None:
                await asyncio.sleep(0.05)
            elif message.type == "prediction.made":
                received.append(message)
        await queue.delete(if_unused=False, if_empty=False)
    return received


async def delete_queue(broker: RabbitMQNode, name: str) -> None:
    async with await aio_pika.connect(broker.url) as connection:
        channel = await connection.channel()
        await channel.queue_delete(name)


def queue_depth(broker: RabbitMQNode, name: str) -> int | None:
    """Messages ready or unacknowledged; None while the queue does not exist."""
    listing = broker.ctl("list_queues", "name", "messages", "--quiet", "--no-table-headers")
    for line in listing.splitlines():
        queue, _, depth = line.partition("\t")
        if queue == name:
            return int(depth)
    return None


def wait_until_consumed(broker: RabbitMQNode) -> None:
    """Every message in the analytics queue acked, which the consumer does only once it is recorded."""
    wait_until(lambda: queue_depth(broker, QUEUE) == 0, what=f"{QUEUE} to be drained")


def stats(client: TestClient) -> dict[str, Any]:
    response = client.get("/v1/stats")
    assert response.status_code == 200
    return response.json()


def wait_until_connected(client: TestClient, timeout: float = 10.0) -> None:
    wait_until(lambda: stats(client)["consumer"]["connected"], "the consumer to connect", timeout=timeout)


# --- the tests -----------------------------------------------------------------------------------------


def test_the_exchange_and_a_durable_analytics_queue_bound_to_it_are_declared(
    broker: RabbitMQNode, service: FastAPI
) -> None:
    with TestClient(service) as client:
        wait_until_connected(client)

    exchanges = broker.ctl("list_exchanges", "name", "type", "durable", "--quiet", "--no-table-headers")
    queues = broker.ctl("list_queues", "name", "durable", "--quiet", "--no-table-headers")
    bindings = broker.ctl("list_bindings", "source_name", "destination_name", "--quiet", "--no-table-headers")
    assert f"{EXCHANGE}\tfanout\ttrue" in exchanges.splitlines()
    assert f"{QUEUE}\ttrue" in queues.splitlines()
    assert f"{EXCHANGE}\t{QUEUE}" in bindings.splitlines()


def test_a_job_completed_event_published_twice_with_the_same_id_is_counted_once(
    broker: RabbitMQNode, service: FastAPI
) -> None:
    body = job_completed("sentiment", event_id=str(uuid.uuid4()))

    with TestClient(service) as client:
        wait_until_connected(client)
        run(publish(broker, body, body))
        wait_until_consumed(broker)
        counted = stats(client)

    assert counted["events"] == {"job.completed": 1}
    assert counted["models"]["sentiment"]["jobs_completed"] == 1
    assert counted["models"]["sentiment"]["jobs_failed"] == 0


def test_every_event_of_a_batch_message_is_counted_once_and_a_republished_batch_changes_nothing(
    broker: RabbitMQNode, service: FastAPI
) -> None:
    batch = batch_body(job_completed("sentiment"), job_completed("sentiment"), job_completed("iris"))

    with TestClient(service) as client:
        wait_until_connected(client)
        run(publish(broker, batch, job_failed("iris")))
        wait_until_consumed(broker)
        first = stats(client)
        run(publish(broker, batch))
        wait_until_consumed(broker)
        counted = stats(client)

    assert first["events"] == {"job.completed": 3, "job.failed": 1}
    assert (first["models"]["sentiment"]["jobs_completed"], first["models"]["iris"]["jobs_completed"]) == (2, 1)
    assert counted == first


def test_an_unparsable_message_is_dropped_and_does_not_block_the_next(
    broker: RabbitMQNode, service: FastAPI
) -> None:
    with TestClient(service) as client:
        wait_until_connected(client)
        run(publish(broker, b"\x00 this is not an event", job_failed("iris")))
        wait_until_consumed(broker)  # the bad one is rejected, not requeued
        counted = stats(client)

    assert counted["events"] == {"job.failed": 1}
    assert counted["models"]["iris"]["jobs_failed"] == 1


def test_served_predictions_are_published_as_prediction_made_events_with_counts_and_traceparent(
    broker: RabbitMQNode, service: FastAPI
) -> None:
    listener = run(bind_listener(broker))

    with TestClient(service) as client:
        wait_until_connected(client)
        for text in (POSITIVE, NEGATIVE, POSITIVE):
            assert client.get("/predict", params={"text": text}).status_code == 200
        response = client.post("/v1/predict", json={"model": "iris", "inputs": [SETOSA, VIRGINICA]})
        assert response.status_code == 200
        messages = run(receive_prediction_events(broker, listener, expected_predictions=5))
        # The service's own consumer counts them too.
        wait_until(lambda: stats(client)["models"].get("sentiment", {}).get("predictions") == 3, what="stats")
        counted = stats(client)

    labels: dict[str, dict[str, int]] = {}
    for message in messages:
        body = json.loads(message.body)
        assert message.content_type == "application/json"
        assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
        assert message.message_id == body["id"]
        assert message.timestamp is not None
        assert parse_traceparent(str(message.headers["traceparent"])) is not None
        assert (body["type"], body["source"]) == ("prediction.made", "python-inference")
        data = body["data"]
        assert data["version"] == "1.0.0"
        assert data["count"] == sum(data["labels"].values())
        for label, count in data["labels"].items():
            model_labels = labels.setdefault(data["model"], {})
            model_labels[label] = model_labels.get(label, 0) + count
    assert labels == {"sentiment": {"positive": 2, "negative": 1}, "iris": {"setosa": 1, "virginica": 1}}
    assert counted["models"]["sentiment"]["labels"] == {"positive": 2, "negative": 1}
    assert counted["models"]["sentiment"]["versions"] == {"1.0.0": 3}


def test_the_consumer_reconnects_after_the_broker_closes_the_connection_and_counts_new_events(
    broker: RabbitMQNode, service: FastAPI
) -> None:
    messaging: Messaging = service.state.messaging

    with TestClient(service) as client:
        wait_until_connected(client)
        broker.ctl("close_all_connections", "closed by a test")
        wait_until(lambda: messaging.connection.reconnects >= 1, what="a reconnect")  # more than one is legitimate
        wait_until_connected(client)
        run(publish(broker, job_failed("iris")))
        assert client.get("/predict", params={"text": POSITIVE}).status_code == 200
        wait_until(
            lambda: stats(client)["models"].get("sentiment", {}).get("predictions") == 1,
            what="the prediction.made event published after the reconnect",
        )
        wait_until_consumed(broker)
        counted = stats(client)

    assert counted["events"] == {"job.failed": 1, "prediction.made": 1}
    assert counted["models"]["iris"]["jobs_failed"] == 1


def test_a_delivery_in_progress_when_the_broker_closes_the_connection_is_counted_once_and_leaves_no_traceback(
    broker: RabbitMQNode, service: FastAPI, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """aio-pika cancels the task of a delivery still in progress when its channel closes, and its done callback
    re-raises the cancellation into the event loop, which logged it as an unhandled exception with a traceback at
    every broker restart. The delivery is redelivered and counted once; the log has one line about it, no traceback."""
    messaging: Messaging = service.state.messaging
    store = messaging.consumer.store
    record_many = store.record_many
    recording, release = threading.Event(), threading.Event()

    def first_held(events: list[Any]) -> list[bool]:
        if not recording.is_set():  # the first transaction is still being written when the connection closes
            recording.set()
            release.wait(10)
        return record_many(events)

    monkeypatch.setattr(store, "record_many", first_held)
    caplog.set_level(logging.INFO)
    with TestClient(service) as client:
        wait_until_connected(client)
        run(publish(broker, job_completed("sentiment")))
        assert recording.wait(10), "the delivery never reached the store"
        broker.ctl("close_all_connections", "closed by a test")
        wait_until(lambda: "was cancelled in progress as its channel closed" in caplog.text, what="the cancellation")
        release.set()
        wait_until(lambda: messaging.connection.reconnects >= 1, what="a reconnect")
        wait_until_consumed(broker)  # redelivered after the reconnect, found counted, acked
        counted = stats(client)

    assert counted["events"] == {"job.completed": 1}
    unhandled = [record.getMessage() for record in caplog.records if record.name == "asyncio"]
    assert unhandled == [], unhandled
    assert "Traceback" not in caplog.text and "NoneType: None" not in caplog.text  # aiormq's close line has none


def test_the_service_serves_while_the_broker_is_unreachable_and_publishes_once_it_appears(
    broker: RabbitMQNode,
    settings: Settings,
    registry: ModelRegistry,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    late_broker = TcpForwarder(broker.port)  # refuses connections until opened
    app = messaging_app(settings, registry, tmp_path, f"amqp://{USER}:{broker.password}@127.0.0.1:{late_broker.port}/")
    try:
        with TestClient(app) as client:
            assert client.get("/predict", params={"text": NEGATIVE}).status_code == 200
            wait_until(lambda: "not available (attempt 2" in caplog.text, what="two failed connection attempts")
            assert stats(client)["consumer"]["connected"] is False

            late_broker.open()
            wait_until_connected(client, timeout=15.0)
            wait_until(
                lambda: stats(client)["models"].get("sentiment", {}).get("labels") == {"negative": 1},
                what="the prediction served while the broker was away",
            )
    finally:
        late_broker.close()
        run(delete_queue(broker, QUEUE))


def test_counts_published_on_connecting_reach_the_analytics_queue_however_slowly_it_is_declared(
    broker: RabbitMQNode,
    settings: Settings,
    registry: ModelRegistry,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A first start: the analytics queue does not exist yet, and declaring it takes longer than a flush interval.
    run(delete_queue(broker, QUEUE))
    declare = AnalyticsConsumer.attach

    async def slow_declare(self: AnalyticsConsumer, connection: Any) -> None:
        await asyncio.sleep(0.5)
        await declare(self, connection)

    monkeypatch.setattr(AnalyticsConsumer, "attach", slow_declare)
    late_broker = TcpForwarder(broker.port)  # refuses connections until opened: the count waits for it
    app = messaging_app(settings, registry, tmp_path, f"amqp://{USER}:{broker.password}@127.0.0.1:{late_broker.port}/")
    try:
        with TestClient(app) as client:
            assert client.get("/predict", params={"text": NEGATIVE}).status_code == 200
            late_broker.open()
            wait_until_connected(client, timeout=15.0)
            wait_until(
                lambda: stats(client)["models"].get("sentiment", {}).get("labels") == {"negative": 1},
                what="the count published on connecting",
            )
    finally:
        late_broker.close()
        run(delete_queue(broker, QUEUE))


def test_shutdown_publishes_the_pending_counts(
    broker: RabbitMQNode, settings: Settings, registry: ModelRegistry, tmp_path: Path
) -> None:
    app = messaging_app(settings, registry, tmp_path, broker.url, EVENTS_FLUSH_INTERVAL=3600.0)
    listener = run(bind_listener(broker))
    try:
        with TestClient(app) as client:
            wait_until_connected(client)
            response = client.post("/v1/predict", json={"model": "iris", "inputs": [SETOSA, SETOSA]})
            assert response.status_code == 200
        [message] = run(receive_prediction_events(broker, listener, expected_predictions=2))
    finally:
        run(delete_queue(broker, QUEUE))

    assert json.loads(message.body)["data"]["labels"] == {"setosa": 2}


def test_the_analytics_database_is_made_at_start_before_any_event_even_without_a_broker(
    settings: Settings, registry: ModelRegistry, tmp_path: Path, postgres: PostgresServer
) -> None:
    name = f"analytics_{uuid.uuid4().hex[:12]}"
    app = messaging_app(
        settings, registry, tmp_path, f"amqp://{USER}:secret@127.0.0.1:{free_port()}",
        DATABASE_PROVIDER="postgres", ANALYTICS_DATABASE=f"host=127.0.0.1 port={postgres.port} user=postgres dbname={name}",
    )
    try:
        with TestClient(app):
            wait_until(lambda: postgres.databases_named(name), f"{name} to be made")
            # Autocommit: each read its own transaction, which sees the tables committed since the last.
            with psycopg.connect(postgres.conninfo(name), autocommit=True) as connection:
                wait_until(
                    lambda: connection.execute("SELECT to_regclass('processed_events')").fetchone() != (None,),
                    f"{name}'s schema",
                )
    finally:
        postgres.drop_database(name)


def test_a_refused_analytics_database_is_reported_at_start_and_predictions_are_still_served(
    settings: Settings, registry: ModelRegistry, tmp_path: Path, postgres: PostgresServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    role, name = f"analytics_{uuid.uuid4().hex[:12]}", f"analytics_{uuid.uuid4().hex[:12]}"
    postgres.execute(f"CREATE ROLE {role} LOGIN")  # no CREATEDB
    app = messaging_app(
        settings, registry, tmp_path, f"amqp://{USER}:secret@127.0.0.1:{free_port()}",
        DATABASE_PROVIDER="postgres", ANALYTICS_DATABASE=f"host=127.0.0.1 port={postgres.port} user={role} dbname={name}",
    )
    with TestClient(app) as client:
        wait_until(lambda: f'CREATE DATABASE "{name}" OWNER "{role}"' in caplog.text, "the refusal in the log")
        assert client.get("/predict", params={"text": POSITIVE}).status_code == 200


def test_shutdown_is_quick_while_the_broker_is_unreachable(
    settings: Settings, registry: ModelRegistry, tmp_path: Path
) -> None:
    app = messaging_app(settings, registry, tmp_path, f"amqp://{USER}:secret@127.0.0.1:{free_port()}")

    with TestClient(app) as client:
        assert client.get("/predict", params={"text": POSITIVE}).status_code == 200
        stopping = time.monotonic()

    assert time.monotonic() - stopping < 5.0

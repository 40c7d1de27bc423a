"""The activation consumer (app/messaging/activation.py) against a real RabbitMQ node: model.activated switches
the served version of every replica, each through a queue of its own."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import aio_pika
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.messaging.lifecycle import Messaging
from app.ml.registry import ModelRegistry
from tests.messaging.broker import RabbitMQNode
from tests.messaging.test_lifecycle import (
    EXCHANGE,
    QUEUE,
    batch_body,
    delete_queue,
    event_body,
    job_completed,
    job_failed,
    messaging_app,
    publish,
    run,
)
from tests.support import INCOMING_TRACE_ID, INCOMING_TRACEPARENT, RecordingExporter, wait_until

TEXT = "The staff were friendly and the room was spotless."


@pytest.fixture
def make_replica(
    broker: RabbitMQNode, settings: Settings, registry: ModelRegistry, tmp_path: Path
) -> Iterator[Callable[[], FastAPI]]:
    """Builds python-inference replicas on the broker, each with a registry of its own (as separate processes have)."""
    made = 0

    def make() -> FastAPI:
        nonlocal made
        made += 1
        replica_dir = tmp_path / f"replica-{made}"
        return messaging_app(settings, ModelRegistry(registry.all_versions()), replica_dir, broker.url)

    yield make
    run(delete_queue(broker, QUEUE))


async def publish_activation(
    broker: RabbitMQNode, model: str, *versions: str, routing_key: str = "model.activated"
) -> None:
    """As the Worker does on ActivateVersion: a persistent model.activated event with the caller's traceparent, routed
    by its type (a Worker built before routing keys published it with the empty key). Several versions are activations
    one transaction recorded, which the Worker sends as one message, a batch."""
    async with await aio_pika.connect(broker.url) as connection:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(EXCHANGE, aio_pika.ExchangeType.FANOUT, durable=True)
        bodies = [event_body("model.activated", {"model": model, "version": version}) for version in versions]
        body = bodies[0] if len(bodies) == 1 else batch_body(*bodies)
        message = aio_pika.Message(
            body,
            content_type="application/json",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            type="model.activated",
            headers={"traceparent": INCOMING_TRACEPARENT},
        )
        await exchange.publish(message, routing_key=routing_key)


def traced_replica(make_replica: Callable[[], FastAPI]) -> tuple[FastAPI, RecordingExporter]:
    """A replica whose finished spans the test reads."""
    app = make_replica()
    exporter = RecordingExporter()
    app.state.tracer.exporter = exporter
    return app, exporter


def activation_ready(app: FastAPI) -> bool:
    messaging: Messaging = app.state.messaging
    return messaging.connection.connected and messaging.activation.consuming


def served_version(client: TestClient) -> str:
    response = client.post("/v1/predict", json={"model": "sentiment", "inputs": [TEXT]})
    assert response.status_code == 200, response.text
    return str(response.json()["version"])


def test_each_replica_consumes_from_an_exclusive_auto_delete_queue_of_its_own(
    broker: RabbitMQNode, make_replica: Callable[[], FastAPI]
) -> None:
    first, second = make_replica(), make_replica()

    with TestClient(first), TestClient(second):
        wait_until(lambda: activation_ready(first) and activation_ready(second), what="both consumers")
        names = {first.state.messaging.activation.queue_name, second.state.messaging.activation.queue_name}
        queues = broker.ctl("list_queues", "name", "exclusive", "auto_delete", "durable", "--quiet", "--no-table-headers")
        bindings = broker.ctl(
            "list_bindings", "source_name", "destination_name", "routing_key", "--quiet", "--no-table-headers"
        )

    assert len(names) == 2 and all(name.startswith("events.models.") for name in names)
    for name in names:
        assert f"{name}\ttrue\ttrue\tfalse" in queues.splitlines()
        # Bound to the topic exchange behind the fanout, for activations (and events without a key), not the fanout.
        assert f"{EXCHANGE}.by-type\t{name}\tmodel.activated" in bindings.splitlines()
        assert f"{EXCHANGE}.by-type\t{name}\t" in bindings.splitlines()
        assert not any(line.startswith(f"{EXCHANGE}\t{name}\t") for line in bindings.splitlines())
    assert f"{EXCHANGE}\t{EXCHANGE}.by-type\t" in bindings.splitlines()
    remaining = broker.ctl("list_queues", "name", "--quiet", "--no-table-headers").splitlines()
    assert not names & set(remaining)  # gone with their connections


def test_model_activated_switches_the_served_version_and_continues_the_publishers_trace(
    broker: RabbitMQNode, make_replica: Callable[[], FastAPI]
) -> None:
    app, exporter = traced_replica(make_replica)

    with TestClient(app) as client:
        wait_until(lambda: activation_ready(app), what="the activation consumer")
        assert served_version(client) == "1.0.0"
        run(publish_activation(broker, "sentiment", "2.0.0"))
        wait_until(lambda: served_version(client) == "2.0.0", what="the switch to 2.0.0")
        models = {m["name"]: m["version"] for m in client.get("/v1/models").json()["models"]}
        assert models == {"iris": "1.0.0", "sentiment": "2.0.0"}

    queue_name = app.state.messaging.activation.queue_name
    # The span is named by the queue's template: every replica's queue has a random name of its own.
    processed = [s for s in exporter.spans if s.name == "process events.models.{replica}"]
    [span] = [s for s in processed if s.attributes.get("event.type") == "model.activated"]
    assert span.attributes["messaging.destination.name"] == queue_name
    assert span.attributes["messaging.destination.template"] == "events.models.{replica}"
    assert span.attributes["messaging.destination.temporary"] is True
    assert span.attributes["messaging.destination_publish.name"] == "events"
    assert span.trace_id == INCOMING_TRACE_ID
    assert span.parent_span_id == INCOMING_TRACEPARENT.split("-")[2]
    assert (span.attributes["event.type"], span.attributes["ml.model.version"]) == ("model.activated", "2.0.0")


def test_every_replica_switches(broker: RabbitMQNode, make_replica: Callable[[], FastAPI]) -> None:
    first, second = make_replica(), make_replica()

    with TestClient(first) as one, TestClient(second) as two:
        wait_until(lambda: activation_ready(first) and activation_ready(second), what="both consumers")
        run(publish_activation(broker, "sentiment", "2.0.0"))
        wait_until(lambda: served_version(one) == "2.0.0", what="the first replica to switch")
        wait_until(lambda: served_version(two) == "2.0.0", what="the second replica to switch")
        run(publish_activation(broker, "sentiment", "1.0.0"))
        wait_until(lambda: served_version(one) == served_version(two) == "1.0.0", what="both to switch back")


def test_only_activations_reach_the_replicas_queue_and_one_without_a_routing_key_still_does(
    broker: RabbitMQNode, make_replica: Callable[[], FastAPI]
) -> None:
    app, exporter = traced_replica(make_replica)

    with TestClient(app) as client:
        wait_until(lambda: activation_ready(app), what="the activation consumer")
        run(publish(broker, job_completed(), job_failed()))
        # Behind the job events in the queue, had they been delivered: as a Worker built before routing keys sends it.
        run(publish_activation(broker, "sentiment", "2.0.0", routing_key=""))
        wait_until(lambda: served_version(client) == "2.0.0", what="the switch to 2.0.0")

    processed = [s for s in exporter.spans if s.name == "process events.models.{replica}"]
    assert [s.attributes.get("event.type") for s in processed] == ["model.activated"]


def test_an_unknown_version_is_acked_with_a_warning_and_changes_nothing(
    broker: RabbitMQNode, make_replica: Callable[[], FastAPI], caplog: pytest.LogCaptureFixture
) -> None:
    app = make_replica()

    with TestClient(app) as client:
        wait_until(lambda: activation_ready(app), what="the activation consumer")
        run(publish_activation(broker, "sentiment", "9.9.9"))
        run(publish_activation(broker, "sentiment", "2.0.0"))  # behind it: the unknown one did not block the queue
        wait_until(lambda: served_version(client) == "2.0.0", what="the known version after the unknown one")

    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("model.activated for sentiment 9.9.9" in message for message in warnings), warnings


def test_each_activation_of_a_batch_message_is_handled_in_order(
    broker: RabbitMQNode, make_replica: Callable[[], FastAPI], caplog: pytest.LogCaptureFixture
) -> None:
    app, exporter = traced_replica(make_replica)

    with TestClient(app) as client:
        wait_until(lambda: activation_ready(app), what="the activation consumer")
        run(publish_activation(broker, "sentiment", "9.9.9", "1.0.0", "2.0.0"))  # the other way round: 1.0.0
        wait_until(lambda: served_version(client) == "2.0.0", what="the batch's last activation")

    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("model.activated for sentiment 9.9.9" in message for message in warnings), warnings
    processed = [s for s in exporter.spans if s.name == "process events.models.{replica}"]
    [span] = [s for s in processed if s.attributes.get("event.type") == "model.activated"]
    assert span.attributes["messaging.batch.message_count"] == 3
    assert span.attributes["ml.model.version"] == "2.0.0"


def test_the_queue_is_redeclared_after_the_broker_closes_the_connection(
    broker: RabbitMQNode, make_replica: Callable[[], FastAPI]
) -> None:
    app = make_replica()
    messaging: Messaging = app.state.messaging

    with TestClient(app) as client:
        wait_until(lambda: activation_ready(app), what="the activation consumer")
        broker.ctl("close_all_connections", "closed by a test")
        wait_until(lambda: messaging.connection.reconnects >= 1, what="a reconnect")  # more than one is legitimate
        wait_until(
            lambda: messaging.activation.queue_name in broker.ctl("list_queues", "name", "--quiet"),
            what="the exclusive queue to be declared again",
        )
        run(publish_activation(broker, "sentiment", "2.0.0"))
        wait_until(lambda: served_version(client) == "2.0.0", what="the switch after the reconnect")

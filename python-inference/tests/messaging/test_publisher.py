"""The prediction.made publisher against an in-memory exchange; tests/messaging/test_lifecycle.py
runs it against RabbitMQ."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from typing import Any

import aio_pika
import pytest

from app.core.telemetry import SPAN_KIND_PRODUCER, Tracer, instruments, parse_traceparent
from app.messaging.publisher import PredictionPublisher
from app.ml.counter import ModelVersion, PredictionCounter
from tests.support import RecordingExporter, wait_until_async


class FakeExchange:
    """Confirms every publish, or fails those for the models in `failing`."""

    def __init__(self, failing: set[str] | None = None, hang: bool = False) -> None:
        self.published: list[aio_pika.Message] = []
        self.attempted: list[aio_pika.Message] = []  # every publish, confirmed or not
        self.failing = failing or set()
        self.hang = hang

    async def publish(self, message: aio_pika.Message, routing_key: str, *, mandatory: bool = True) -> object:
        assert routing_key == "prediction.made"  # the event's type, which `events.by-type` routes by
        self.attempted.append(message)
        if self.hang:
            await asyncio.Event().wait()
        if json.loads(message.body)["data"]["model"] in self.failing:
            raise ConnectionError("broker unreachable")
        self.published.append(message)
        return object()

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(message.body) for message in self.published]


def make_publisher(
    counter: PredictionCounter,
    exchange: FakeExchange | None,
    *,
    flush_interval: float = 60.0,
    tracer: Tracer | None = None,
) -> PredictionPublisher:
    publisher = PredictionPublisher(counter, tracer or Tracer(), exchange_name="events", flush_interval=flush_interval)
    if exchange is not None:
        publisher.use_exchange(exchange)
    return publisher


def test_flush_publishes_one_prediction_made_event_per_model_version() -> None:
    counter = PredictionCounter(flush_threshold=1000)
    counter.record("sentiment", "1.0.0", ["positive", "negative", "positive"])
    counter.record("iris", "1.0.0", ["setosa"])
    counter.record("iris", "2.0.0", ["virginica"])
    exchange = FakeExchange()

    assert asyncio.run(make_publisher(counter, exchange).flush()) is True

    data = sorted((body["data"] for body in exchange.bodies()), key=lambda d: (d["model"], d["version"]))
    assert data == [
        {"model": "iris", "version": "1.0.0", "count": 1, "labels": {"setosa": 1}},
        {"model": "iris", "version": "2.0.0", "count": 1, "labels": {"virginica": 1}},
        {"model": "sentiment", "version": "1.0.0", "count": 3, "labels": {"positive": 2, "negative": 1}},
    ]
    assert counter.pending == 0


def test_published_message_follows_the_envelope_contract_and_carries_the_flush_span(
    recording_exporter: RecordingExporter,
) -> None:
    counter = PredictionCounter(flush_threshold=1000)
    counter.record("iris", "1.0.0", ["setosa", "setosa"])
    exchange = FakeExchange()

    asyncio.run(make_publisher(counter, exchange, tracer=Tracer(recording_exporter)).flush())

    [message] = exchange.published
    body = json.loads(message.body)
    assert body["type"] == "prediction.made"
    assert body["source"] == "python-inference"
    assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
    assert message.content_type == "application/json"
    assert message.type == "prediction.made"
    assert message.message_id == body["id"]
    assert message.timestamp is not None
    [span] = recording_exporter.spans
    assert (span.name, span.kind) == ("publish events", SPAN_KIND_PRODUCER)
    assert message.headers["traceparent"] == span.traceparent
    assert parse_traceparent(str(message.headers["traceparent"])) == span.context
    # Semantic conventions 1.27: one message, so its id; the fanout's empty routing key is left out.
    assert span.attributes == {
        "messaging.system": "rabbitmq",
        "messaging.operation.type": "send",
        "messaging.operation.name": "publish",
        "messaging.destination.name": "events",
        "messaging.message.id": body["id"],
    }


def test_flush_with_nothing_pending_publishes_nothing(recording_exporter: RecordingExporter) -> None:
    exchange = FakeExchange()

    assert asyncio.run(make_publisher(PredictionCounter(10), exchange, tracer=Tracer(recording_exporter)).flush())

    assert exchange.published == []
    assert recording_exporter.spans == []


def test_counts_are_kept_while_no_broker_is_connected() -> None:
    counter = PredictionCounter(flush_threshold=1000)
    counter.record("iris", "1.0.0", ["setosa"])

    assert asyncio.run(make_publisher(counter, exchange=None).flush()) is False

    assert counter.take() == {ModelVersion("iris", "1.0.0"): Counter(setosa=1)}


def test_an_event_the_broker_did_not_confirm_is_sent_again_with_its_id_and_new_counts_follow_it() -> None:
    counter = PredictionCounter(flush_threshold=1000)
    counter.record("sentiment", "1.0.0", ["positive"])
    counter.record("iris", "1.0.0", ["setosa"])
    exchange = FakeExchange(failing={"iris"})
    publisher = make_publisher(counter, exchange)

    async def scenario() -> list[bool]:
        first = await publisher.flush()
        counter.record("iris", "1.0.0", ["setosa", "versicolor"])  # served while the broker was away
        exchange.failing.clear()
        return [first, await publisher.flush(), await publisher.flush()]

    assert asyncio.run(scenario()) == [False, True, True]
    unconfirmed = exchange.attempted[1]  # sentiment's went through, iris's was refused
    assert [body["data"] for body in exchange.bodies()] == [
        {"model": "sentiment", "version": "1.0.0", "count": 1, "labels": {"positive": 1}},
        # the same event again, its id unchanged, so that a consumer that did get it the first time counts it once
        {"model": "iris", "version": "1.0.0", "count": 1, "labels": {"setosa": 1}},
        # what was served meanwhile waited until that one was settled
        {"model": "iris", "version": "1.0.0", "count": 2, "labels": {"setosa": 1, "versicolor": 1}},
    ]
    assert exchange.published[1].message_id == unconfirmed.message_id
    assert exchange.published[1].body == unconfirmed.body
    assert (counter.pending, publisher.unconfirmed) == (0, 0)


def test_a_publish_that_is_never_confirmed_times_out_and_its_event_is_sent_again_with_its_id(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(PredictionPublisher, "PUBLISH_TIMEOUT_S", 0.05)
    counter = PredictionCounter(flush_threshold=1000)
    counter.record("iris", "1.0.0", ["setosa"])
    exchange = FakeExchange(hang=True)
    publisher = make_publisher(counter, exchange)

    async def scenario() -> list[bool]:
        first = await publisher.flush()
        exchange.hang = False
        return [first, await publisher.flush()]

    assert asyncio.run(scenario()) == [False, True]
    assert [message.message_id for message in exchange.attempted] == [exchange.published[0].message_id] * 2
    assert (counter.pending, publisher.unconfirmed) == (0, 0)


def test_a_flush_cancelled_while_waiting_for_a_confirm_sends_that_event_again_with_its_id() -> None:
    counter = PredictionCounter(flush_threshold=1000)
    counter.record("iris", "1.0.0", ["setosa"])
    exchange = FakeExchange(hang=True)
    publisher = make_publisher(counter, exchange)

    async def scenario() -> bool:
        flush = asyncio.create_task(publisher.flush())
        while not exchange.attempted:
            await asyncio.sleep(0.01)
        flush.cancel()  # the message may be at the broker, its confirm still on the way
        await asyncio.gather(flush, return_exceptions=True)
        exchange.hang = False
        return await publisher.flush()

    assert asyncio.run(scenario()) is True
    [again] = exchange.published
    assert again.message_id == exchange.attempted[0].message_id
    assert json.loads(again.body)["data"]["count"] == 1  # sent again, not counted again into a new event
    assert (counter.pending, publisher.unconfirmed) == (0, 0)


def test_the_flush_loop_publishes_every_interval() -> None:
    counter = PredictionCounter(flush_threshold=1000)
    exchange = FakeExchange()
    publisher = make_publisher(counter, exchange, flush_interval=0.05)

    async def scenario() -> None:
        publisher.start()
        counter.record("iris", "1.0.0", ["setosa"])
        await wait_until_async(lambda: len(exchange.published) == 1, "one published message")
        counter.record("iris", "1.0.0", ["virginica"])
        await wait_until_async(lambda: len(exchange.published) == 2, "two published messages")
        await publisher.stop(timeout=5.0)

    asyncio.run(scenario())
    assert [body["data"]["labels"] for body in exchange.bodies()] == [{"setosa": 1}, {"virginica": 1}]


def test_reaching_the_pending_limit_flushes_before_the_interval_ends() -> None:
    counter = PredictionCounter(flush_threshold=3)
    exchange = FakeExchange()
    publisher = make_publisher(counter, exchange, flush_interval=60.0)

    wakes: list[int] = []

    async def scenario() -> None:
        publisher.start()
        wake = counter.on_threshold
        assert wake is not None
        counter.on_threshold = lambda: (wakes.append(counter.pending), wake())
        counter.record("iris", "1.0.0", ["setosa", "setosa"])
        assert wakes == []  # below the limit the flush loop is not woken (and the interval is an hour away)
        counter.record("iris", "1.0.0", ["setosa"])
        assert wakes == [3]
        await wait_until_async(lambda: len(exchange.published) == 1, "one published message")
        await publisher.stop(timeout=5.0)

    asyncio.run(scenario())
    assert exchange.bodies()[0]["data"]["count"] == 3


def test_stop_publishes_what_is_pending_once() -> None:
    counter = PredictionCounter(flush_threshold=1000)
    exchange = FakeExchange()
    publisher = make_publisher(counter, exchange, flush_interval=60.0)

    async def scenario() -> None:
        publisher.start()
        counter.record("sentiment", "1.0.0", ["negative"])
        await publisher.stop(timeout=5.0)

    asyncio.run(scenario())
    assert [body["data"]["labels"] for body in exchange.bodies()] == [{"negative": 1}]


def test_stop_gives_up_on_an_unresponsive_broker_within_its_timeout() -> None:
    counter = PredictionCounter(flush_threshold=1000)
    counter.record("sentiment", "1.0.0", ["negative"])
    publisher = make_publisher(counter, FakeExchange(hang=True))

    async def scenario() -> float:
        loop = asyncio.get_running_loop()
        started = loop.time()
        await publisher.stop(timeout=0.5)  # the exchange never answers: only the timeout can end this
        return loop.time() - started

    assert asyncio.run(scenario()) < 10.0  # seconds: wide, a loaded machine is slow, a hang is endless
    assert publisher.unconfirmed == 1  # kept, to be sent again with its id, not silently dropped


class CancellationLost:
    """Stands in for the flush loop's task whose cancellation Python 3.11's `asyncio.wait_for` lost (it does when the
    cancellation meets the awaitable's completion, e.g. a publish's confirm): `cancel` reaches nothing."""

    def __init__(self, task: "asyncio.Task[None]") -> None:
        self._task = task

    def cancel(self) -> bool:
        return False

    def __await__(self) -> Any:
        return self._task.__await__()


def test_stop_ends_the_flush_loop_even_when_its_cancellation_is_lost() -> None:
    counter = PredictionCounter(flush_threshold=1)
    exchange = FakeExchange()
    publisher = make_publisher(counter, exchange, flush_interval=60.0)

    async def scenario() -> None:
        publisher.start()
        counter.record("iris", "1.0.0", ["setosa"])
        await wait_until_async(lambda: len(exchange.published) == 1, "one published message")
        assert publisher._task is not None
        publisher._task = CancellationLost(publisher._task)  # type: ignore[assignment]
        # Without the stop flag the loop would wait out its whole 60 s interval, and `stop` with it.
        await asyncio.wait_for(publisher.stop(timeout=5.0), 10.0)

    asyncio.run(scenario())
    assert len(exchange.published) == 1


def test_sent_messages_are_counted_per_destination_and_failures_by_error_type() -> None:
    sent = instruments.MESSAGING_SENT
    ok = {"messaging.system": "rabbitmq", "messaging.operation.name": "publish", "messaging.destination.name": "events"}
    failed = {**ok, "error.type": "ConnectionError"}
    before_ok, before_failed = sent.value(ok), sent.value(failed)
    counter = PredictionCounter(1000)
    counter.record("sentiment", "1.0.0", ["positive"])
    counter.record("iris", "1.0.0", ["setosa"])
    counter.record("iris", "2.0.0", ["virginica"])

    asyncio.run(make_publisher(counter, FakeExchange(failing={"iris"})).flush())

    assert (sent.value(ok), sent.value(failed)) == (before_ok + 1, before_failed + 2)


def test_a_flush_of_several_events_is_one_publish_span_with_the_batch_size(
    recording_exporter: RecordingExporter,
) -> None:
    counter = PredictionCounter(1000)
    counter.record("sentiment", "1.0.0", ["positive"])
    counter.record("iris", "1.0.0", ["setosa"])

    asyncio.run(make_publisher(counter, FakeExchange(), tracer=Tracer(recording_exporter)).flush())

    [span] = recording_exporter.spans
    assert span.attributes["messaging.batch.message_count"] == 2
    assert "messaging.message.id" not in span.attributes  # per message, so only on a single message's span

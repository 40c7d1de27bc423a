"""The analytics store and the consumer's handling of single deliveries, without a broker;
tests/messaging/test_lifecycle.py runs the consumer against RabbitMQ."""

from __future__ import annotations

import asyncio
import itertools
import json
import sqlite3
import struct
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from app.core.telemetry import SPAN_KIND_CONSUMER, Tracer, instruments
from app.messaging import analytics_store, delivery
from app.messaging.analytics import AnalyticsConsumer, AnalyticsStore, ModelCounts
from app.messaging.analytics_store import postgres_conninfo
from app.messaging.delivery import BatchedAcks
from app.schemas.events import Event, parse_events
from tests.messaging.postgres import PostgresServer
from tests.messaging.test_lifecycle import batch_body, event_body
from tests.support import INCOMING_TRACE_ID, INCOMING_TRACEPARENT, RecordingExporter


def event(event_type: str, data: dict[str, Any], event_id: str | None = None) -> Event:
    [parsed] = parse_events(event_body(event_type, data, event_id))
    return parsed


def prediction_made(model: str, version: str, labels: dict[str, int], event_id: str | None = None) -> Event:
    data = {"model": model, "version": version, "count": sum(labels.values()), "labels": labels}
    return event("prediction.made", data, event_id)


def job(event_type: str, model: str) -> Event:
    data: dict[str, Any] = {"jobId": str(uuid.uuid4()), "owner": "alice", "model": model, "attempts": 1}
    if event_type == "job.completed":
        data |= {"version": "1.0.0", "predictions": [{"label": "positive", "score": 0.9}]}
    else:
        data |= {"error": {"type": "urn:problem:internal_error", "status": 500}}
    return event(event_type, data)


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AnalyticsStore]:
    """The store on each provider: a SQLite file of its own, or a schema of its own on the session's PostgreSQL."""
    if request.param == "sqlite":
        store = AnalyticsStore(tmp_path / "state" / "analytics.db")
        yield store
        store.close()
        return
    server = request.getfixturevalue("postgres")
    schema, conninfo = server.create_schema()
    store = AnalyticsStore.postgres(conninfo)
    yield store
    store.close()
    server.execute(f"DROP SCHEMA {schema} CASCADE")


def test_the_same_event_id_is_counted_once(store: AnalyticsStore) -> None:
    once = prediction_made("iris", "1.0.0", {"setosa": 2})

    assert store.record(once) is True
    assert store.record(once) is False

    snapshot = store.snapshot()
    assert snapshot.models["iris"].predictions == 2
    assert snapshot.events == {"prediction.made": 1}


def test_predictions_are_counted_per_label_and_per_version(store: AnalyticsStore) -> None:
    store.record(prediction_made("sentiment", "1.0.0", {"positive": 2, "negative": 1}))
    store.record(prediction_made("sentiment", "1.0.0", {"positive": 1}))
    store.record(prediction_made("sentiment", "2.0.0", {"negative": 4}))

    assert store.snapshot().models == {
        "sentiment": ModelCounts(
            predictions=8, labels={"positive": 3, "negative": 5}, versions={"1.0.0": 4, "2.0.0": 4}
        )
    }


def test_jobs_completed_and_failed_are_counted_per_model(store: AnalyticsStore) -> None:
    for event_type, model in [("job.completed", "iris"), ("job.completed", "iris"), ("job.failed", "iris")]:
        store.record(job(event_type, model))
    store.record(job("job.failed", "sentiment"))

    snapshot = store.snapshot()
    assert (snapshot.models["iris"].jobs_completed, snapshot.models["iris"].jobs_failed) == (2, 1)
    assert snapshot.models["sentiment"] == ModelCounts(jobs_failed=1)
    assert snapshot.events == {"job.completed": 2, "job.failed": 2}


def test_other_event_types_are_counted_per_type_only(store: AnalyticsStore) -> None:
    store.record(event("model.activated", {"model": "iris", "version": "2.0.0"}))
    store.record(event("model.retired", {"whatever": True}))

    snapshot = store.snapshot()
    assert snapshot.models == {}
    assert snapshot.events == {"model.activated": 1, "model.retired": 1}


def test_counts_and_seen_event_ids_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "analytics.db"
    first = AnalyticsStore(path)
    once = prediction_made("iris", "1.0.0", {"setosa": 1})
    first.record(once)
    first.close()

    second = AnalyticsStore(path)
    assert second.record(once) is False
    assert second.snapshot().models["iris"].predictions == 1
    second.close()


def test_the_database_is_in_wal_mode(tmp_path: Path) -> None:
    store = AnalyticsStore(tmp_path / "analytics.db")
    store.snapshot()  # opens it

    with sqlite3.connect(tmp_path / "analytics.db") as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_a_read_is_not_held_by_a_write_in_progress(store: AnalyticsStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """`/v1/stats` reads on a connection of their own: a write held inside its transaction (a stalled disk, say) holds
    no read, which answers with what was committed before it."""
    store.record(prediction_made("iris", "1.0.0", {"setosa": 1}))
    inside, release = threading.Event(), threading.Event()
    counts = analytics_store.event_effects

    def held(event: Event) -> list[Any]:
        inside.set()
        release.wait(10)
        return counts(event)

    monkeypatch.setattr(analytics_store, "event_effects", held)
    with ThreadPoolExecutor(2) as pool:
        writing = pool.submit(store.record, prediction_made("iris", "1.0.0", {"setosa": 5}))
        try:
            assert inside.wait(5), "the write did not start"
            snapshot = pool.submit(store.snapshot).result(timeout=3)
        finally:
            release.set()
        assert writing.result(timeout=10) is True

    assert snapshot.models["iris"].predictions == 1
    assert store.snapshot().models["iris"].predictions == 6


def test_after_each_write_a_read_mark_is_at_the_wals_end(tmp_path: Path) -> None:
    """The wal-index in the -shm file (SQLite's file format): the WAL's end (mxFrame) at byte 16, aReadMark[1..4] at
    bytes 104 to 119. A read that finds a mark equal to the end stores nothing there, so waits for no frozen disk."""
    path = tmp_path / "analytics.db"
    store = AnalyticsStore(path)
    try:
        for labels in ({"setosa": 1}, {"versicolor": 2}):
            store.record(prediction_made("iris", "1.0.0", labels))
            shm = (tmp_path / "analytics.db-shm").read_bytes()[:120]
            end = struct.unpack_from("<I", shm, 16)[0]
            marks = struct.unpack_from("<4I", shm, 104)
            assert end in marks, f"no read mark at the WAL's end {end}: {marks}"
    finally:
        store.close()


def test_an_event_whose_counts_fail_is_not_marked_as_seen(
    store: AnalyticsStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    once = prediction_made("iris", "1.0.0", {"setosa": 1})
    with monkeypatch.context() as patched:
        patched.setattr(analytics_store, "event_effects", lambda _: [(None, "predictions", "", 1)])  # NOT NULL fails
        with pytest.raises((sqlite3.IntegrityError, psycopg.IntegrityError)):
            store.record(once)

    assert store.snapshot().events == {}
    assert store.record(once) is True  # the id was rolled back with the counts
    assert store.snapshot().models["iris"].predictions == 1


class FakeChannel:
    """Numbers its deliveries 1, 2, 3, ... as a channel does, and keeps how they were settled, in order:
    (operation, delivery tag, `multiple` for an ack or `requeue` for a reject or nack). One that does not `answer`
    never finishes a settlement, as aiormq's channel on a connection already gone."""

    def __init__(self, *, closed: bool = False, answers: bool = True) -> None:
        self.tags = itertools.count(1)
        self.settlements: list[tuple[str, int, bool]] = []
        self.is_closed = closed
        self.answers = answers

    @property
    def acks(self) -> int:
        return sum(1 for operation, _, _ in self.settlements if operation == "ack")


class FakeDelivery:
    """The parts of aio-pika's IncomingMessage the consumer uses, on a FakeChannel (its own unless given)."""

    def __init__(self, body: bytes, headers: dict[str, Any] | None = None, channel: FakeChannel | None = None) -> None:
        self.body = body
        self.headers = headers or {}
        self.message_id = None
        self.redelivered = False
        self.routing_key = ""  # a fanout exchange's
        self.channel = channel or FakeChannel()
        self.delivery_tag = next(self.channel.tags)

    @property
    def settled(self) -> tuple[str, bool] | None:
        """How the broker would see it settled: by the first settlement that covers its tag (an ack with `multiple`
        covers every lower tag not settled before), as (operation, requeue)."""
        for operation, tag, flag in self.channel.settlements:
            if tag == self.delivery_tag or (operation == "ack" and flag and tag > self.delivery_tag):
                return (operation, False if operation == "ack" else flag)
        return None

    async def ack(self, multiple: bool = False) -> None:
        await self._settle("ack", multiple)

    async def reject(self, requeue: bool = False) -> None:
        await self._settle("reject", requeue)

    async def nack(self, requeue: bool = True) -> None:
        await self._settle("nack", requeue)

    async def _settle(self, operation: str, flag: bool) -> None:
        if not self.channel.answers:
            await asyncio.get_running_loop().create_future()  # never done
        self.channel.settlements.append((operation, self.delivery_tag, flag))


def consumer(store: AnalyticsStore, tracer: Tracer | None = None) -> AnalyticsConsumer:
    return AnalyticsConsumer(store, tracer or Tracer(), exchange_name="events", queue_name="events.analytics")


def test_a_recorded_event_is_acked(store: AnalyticsStore) -> None:
    delivery = FakeDelivery(event_body("model.activated", {"model": "iris", "version": "2.0.0"}))

    asyncio.run(consumer(store).handle(delivery))  # type: ignore[arg-type]

    assert delivery.settled == ("ack", False)
    assert store.snapshot().events == {"model.activated": 1}


def test_a_redelivered_event_is_acked_and_changes_nothing(store: AnalyticsStore) -> None:
    body = event_body("job.completed", job("job.completed", "iris").envelope.data)
    first, again = FakeDelivery(body), FakeDelivery(body)

    asyncio.run(consumer(store).handle(first))  # type: ignore[arg-type]
    asyncio.run(consumer(store).handle(again))  # type: ignore[arg-type]

    assert again.settled == ("ack", False)
    assert store.snapshot().models["iris"].jobs_completed == 1


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"{not json", id="not-json"),
        # These two raised past the parser (OverflowError, RecursionError) and left the delivery unsettled.
        pytest.param(
            event_body("job.completed", {**job("job.completed", "iris").envelope.data, "predictions": [
                {"label": "a", "score": 10**400}
            ]}),
            id="score-beyond-a-float",
        ),
        pytest.param(b"[" * 100_000 + b"]" * 100_000, id="nested-too-deep"),
    ],
)
def test_an_unparsable_message_is_rejected_without_requeue_and_logged(
    store: AnalyticsStore, caplog: pytest.LogCaptureFixture, body: bytes
) -> None:
    delivery = FakeDelivery(body)

    with caplog.at_level("WARNING", logger="app.messaging.analytics"):
        asyncio.run(consumer(store).handle(delivery))  # type: ignore[arg-type]

    assert delivery.settled == ("reject", False)
    assert "unparsable" in caplog.text
    assert store.snapshot().events == {}


@pytest.mark.parametrize("batch", [False, True], ids=["one event", "a batch"])
def test_a_transient_database_error_requeues_the_message_whole(
    store: AnalyticsStore, monkeypatch: pytest.MonkeyPatch, batch: bool
) -> None:
    def locked(_: list[Event]) -> list[bool]:
        raise store.transient_errors[0]("database is locked")

    monkeypatch.setattr(store, "record_many", locked)
    monkeypatch.setattr(AnalyticsConsumer, "REQUEUE_DELAY_S", 0.0)
    body = batch_body(completed_body("iris"), completed_body("iris")) if batch else completed_body("iris")
    delivery = FakeDelivery(body)

    asyncio.run(consumer(store).handle(delivery))  # type: ignore[arg-type]

    assert delivery.settled == ("nack", True)
    assert delivery.channel.settlements == [("nack", delivery.delivery_tag, True)]


def test_events_recorded_together_count_each_once_and_a_repeat_within_them_is_a_duplicate(store: AnalyticsStore) -> None:
    iris = prediction_made("iris", "1.0.0", {"setosa": 2, "virginica": 1})
    more = prediction_made("iris", "1.0.0", {"setosa": 1})
    done = job("job.completed", "iris")

    assert store.record_many([iris, more, iris, done]) == [True, True, False, True]

    snapshot = store.snapshot()
    assert snapshot.models["iris"] == ModelCounts(
        predictions=4, labels={"setosa": 3, "virginica": 1}, versions={"1.0.0": 4}, jobs_completed=1
    )
    assert snapshot.events == {"job.completed": 1, "prediction.made": 2}


def test_concurrent_deliveries_share_transactions_and_a_bad_event_among_them_fails_alone(
    store: AnalyticsStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    transactions: list[int] = []
    record_many = store.record_many

    def counting(events: list[Event]) -> list[bool]:
        transactions.append(len(events))
        return record_many(events)

    monkeypatch.setattr(store, "record_many", counting)
    effects = analytics_store.event_effects
    # The "broken" model's counts violate NOT NULL: its transaction fails, the others' must not.
    monkeypatch.setattr(
        analytics_store, "event_effects", lambda e: [(None, *effect[1:]) if effect[0] == "broken" else effect for effect in effects(e)]
    )
    channel = FakeChannel()
    deliveries = [
        FakeDelivery(event_body("job.completed", job("job.completed", "broken" if i == 10 else "iris").envelope.data), channel=channel)
        for i in range(21)
    ]
    bad = deliveries[10]

    async def handle_all() -> None:
        analytics = consumer(store)
        await asyncio.gather(*(analytics.handle(delivery) for delivery in deliveries))  # type: ignore[arg-type]

    asyncio.run(handle_all())

    assert bad.settled == ("reject", False)
    assert all(delivery.settled == ("ack", False) for delivery in deliveries if delivery is not bad)
    assert store.snapshot().models["iris"].jobs_completed == 20
    assert "broken" not in store.snapshot().models
    assert max(transactions) > 1  # deliveries shared a transaction (which failed, and was written again one by one)


def test_deliveries_committed_together_are_acknowledged_with_one_ack(store: AnalyticsStore) -> None:
    channel = FakeChannel()
    deliveries = [FakeDelivery(event_body("job.completed", job("job.completed", "iris").envelope.data), channel=channel) for _ in range(20)]

    async def handle_all() -> None:
        analytics = consumer(store)
        await asyncio.gather(*(analytics.handle(delivery) for delivery in deliveries))  # type: ignore[arg-type]

    asyncio.run(handle_all())

    assert all(delivery.settled == ("ack", False) for delivery in deliveries)
    assert channel.settlements == [("ack", 20, True)]
    assert store.snapshot().models["iris"].jobs_completed == 20


def test_a_committed_delivery_is_not_acknowledged_while_a_lower_one_is_still_in_hand(
    store: AnalyticsStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The lower delivery's store write fails transiently; the consumer waits before requeueing it. The higher one
    # commits meanwhile, and a `multiple` ack for it then would also have acknowledged the lower one, whose count
    # is not recorded: it must wait until the lower one is requeued, and then cover only itself.
    record_many = store.record_many

    def flaky(events: list[Event]) -> list[bool]:
        if any(getattr(event.data, "model", None) == "flaky" for event in events):
            raise store.transient_errors[0]("database is locked")
        return record_many(events)

    monkeypatch.setattr(store, "record_many", flaky)
    monkeypatch.setattr(AnalyticsConsumer, "REQUEUE_DELAY_S", 0.2)
    channel = FakeChannel()
    lower = FakeDelivery(event_body("job.completed", job("job.completed", "flaky").envelope.data), channel=channel)
    higher = FakeDelivery(event_body("job.completed", job("job.completed", "iris").envelope.data), channel=channel)

    async def handle_both() -> None:
        analytics = consumer(store)
        await asyncio.gather(analytics.handle(lower), analytics.handle(higher))  # type: ignore[arg-type]

    asyncio.run(handle_both())

    assert channel.settlements == [("nack", lower.delivery_tag, True), ("ack", higher.delivery_tag, True)]
    assert (lower.settled, higher.settled) == (("nack", True), ("ack", False))
    assert store.snapshot().models["iris"].jobs_completed == 1


@pytest.mark.parametrize(
    "old_channel",
    [
        pytest.param({"closed": True, "answers": False}, id="closed"),
        # Not known to be closed yet, and the ack is never sent: given up after the settle timeout.
        pytest.param({"closed": False, "answers": False}, id="never-answers"),
    ],
)
def test_a_settlement_that_never_completes_does_not_hold_the_deliveries_after_it(
    store: AnalyticsStore, monkeypatch: pytest.MonkeyPatch, old_channel: dict[str, bool]
) -> None:
    # The broker restarted while a transaction committed: its ack went to a channel whose connection was gone, and
    # aiormq never finished it. The consumer's one writer waited on it, and every delivery on the reopened channel
    # waited behind it, unacknowledged, while the queue filled (the chaos run of 2026-12-05 02:35 UTC).
    monkeypatch.setattr(delivery, "SETTLE_TIMEOUT_S", 0.2)
    gone, reopened = FakeChannel(**old_channel), FakeChannel()
    before = FakeDelivery(event_body("job.completed", job("job.completed", "iris").envelope.data), channel=gone)
    after = FakeDelivery(event_body("job.completed", job("job.completed", "iris").envelope.data), channel=reopened)

    async def handle_both() -> None:
        analytics = consumer(store)
        await asyncio.wait_for(analytics.handle(before), 5)  # type: ignore[arg-type]
        await asyncio.wait_for(analytics.handle(after), 5)  # type: ignore[arg-type]

    asyncio.run(handle_both())

    assert before.settled is None  # the broker redelivers it, and it is counted once: its id is recorded
    assert after.settled == ("ack", False)
    assert store.snapshot().models["iris"].jobs_completed == 2


def test_batched_acks_cover_the_committed_deliveries_below_the_lowest_in_hand() -> None:
    channel = FakeChannel()
    first, second, third, fourth = (FakeDelivery(b"", channel=channel) for _ in range(4))
    acks = BatchedAcks()
    for delivery in (first, second, third, fourth):
        acks.take(delivery)  # type: ignore[arg-type]

    assert acks.done([second, third]) == []  # type: ignore[list-item]  # the first is still in hand
    assert acks.unacknowledged == 2
    assert acks.done([first]) == [third]  # type: ignore[list-item]  # one ack, with `multiple`, for 1 to 3
    assert acks.release(fourth) is None  # type: ignore[arg-type]  # settled alone: nothing left to ack
    assert acks.unacknowledged == 0


def test_batched_acks_released_delivery_lets_those_above_it_go() -> None:
    channel = FakeChannel()
    first, second = FakeDelivery(b"", channel=channel), FakeDelivery(b"", channel=channel)
    acks = BatchedAcks()
    acks.take(first)  # type: ignore[arg-type]
    acks.take(second)  # type: ignore[arg-type]

    assert acks.done([second]) == []  # type: ignore[list-item]
    assert acks.release(first) is second  # type: ignore[arg-type]


def test_batched_acks_keep_each_channels_tags_apart() -> None:
    # A channel reopened after a reconnect numbers its deliveries from 1 again; the old one's do not hold it back.
    old, new = FakeChannel(), FakeChannel()
    stuck, reopened = FakeDelivery(b"", channel=old), FakeDelivery(b"", channel=new)
    acks = BatchedAcks()
    acks.take(stuck)  # type: ignore[arg-type]
    acks.take(reopened)  # type: ignore[arg-type]

    assert (stuck.delivery_tag, reopened.delivery_tag) == (1, 1)
    assert acks.done([reopened]) == [reopened]  # type: ignore[list-item]


def test_the_consumer_span_continues_the_producers_trace(
    store: AnalyticsStore, recording_exporter: RecordingExporter
) -> None:
    delivery = FakeDelivery(
        event_body("model.activated", {"model": "iris", "version": "2.0.0"}), {"traceparent": INCOMING_TRACEPARENT}
    )

    asyncio.run(consumer(store, Tracer(recording_exporter)).handle(delivery))  # type: ignore[arg-type]

    [span] = recording_exporter.spans
    assert (span.name, span.kind) == ("process events.analytics", SPAN_KIND_CONSUMER)
    assert span.trace_id == INCOMING_TRACE_ID
    assert span.parent_span_id == INCOMING_TRACEPARENT.split("-")[2]
    assert span.attributes["event.type"] == "model.activated"
    # Semantic conventions 1.27: the queue consumed from is the destination, the exchange it was published to the
    # destination_publish; a fanout's empty routing key is left out.
    assert {key: value for key, value in span.attributes.items() if key.startswith("messaging.")} == {
        "messaging.system": "rabbitmq",
        "messaging.operation.type": "process",
        "messaging.operation.name": "process",
        "messaging.destination.name": "events.analytics",
        "messaging.destination_publish.name": "events",
        "messaging.message.redelivered": False,
        "messaging.message.id": span.attributes["messaging.message.id"],
        "messaging.rabbitmq.message.delivery_tag": delivery.delivery_tag,
    }
    assert span.attributes["messaging.message.id"] == json.loads(delivery.body)["id"]


def test_every_delivery_is_counted_as_consumed_from_its_queue(store: AnalyticsStore) -> None:
    consumed = {"messaging.system": "rabbitmq", "messaging.operation.name": "process",
                "messaging.destination.name": "events.analytics"}
    before = instruments.MESSAGING_CONSUMED.value(consumed)

    asyncio.run(consumer(store).handle(FakeDelivery(event_body("model.activated", {"model": "iris", "version": "2"}))))  # type: ignore[arg-type]
    asyncio.run(consumer(store).handle(FakeDelivery(b"{not json")))  # type: ignore[arg-type]

    assert instruments.MESSAGING_CONSUMED.value(consumed) == before + 2


# A message may carry a batch: the Worker's events of one transaction that share type and routing key.


def completed_body(model: str, *, traceparent: str | None = None) -> bytes:
    return event_body("job.completed", job("job.completed", model).envelope.data, traceparent=traceparent)


def handle_together(analytics: AnalyticsConsumer, deliveries: list[FakeDelivery]) -> None:
    async def handle_all() -> None:
        await asyncio.gather(*(analytics.handle(delivery) for delivery in deliveries))  # type: ignore[arg-type]

    asyncio.run(handle_all())


def test_every_event_of_a_batch_message_is_counted_once_in_one_transaction_and_then_acked(
    store: AnalyticsStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    channel = FakeChannel()
    body = batch_body(completed_body("iris"), completed_body("iris"), completed_body("sentiment"))
    delivery = FakeDelivery(body, channel=channel)
    record_many = store.record_many
    unsettled_at_commit: list[bool] = []

    def checking(events: list[Event]) -> list[bool]:
        recorded = record_many(events)
        unsettled_at_commit.append(not channel.settlements)
        return recorded

    monkeypatch.setattr(store, "record_many", checking)

    asyncio.run(consumer(store).handle(delivery))  # type: ignore[arg-type]

    assert unsettled_at_commit == [True]  # one transaction, and nothing acked before it committed
    assert channel.settlements == [("ack", delivery.delivery_tag, True)]
    snapshot = store.snapshot()
    assert (snapshot.models["iris"].jobs_completed, snapshot.models["sentiment"].jobs_completed) == (2, 1)
    assert snapshot.events == {"job.completed": 3}


def test_a_redelivered_batch_is_acked_and_changes_nothing(store: AnalyticsStore) -> None:
    body = batch_body(completed_body("iris"), completed_body("iris"))
    first, again = FakeDelivery(body), FakeDelivery(body)

    asyncio.run(consumer(store).handle(first))  # type: ignore[arg-type]
    before = store.snapshot()
    asyncio.run(consumer(store).handle(again))  # type: ignore[arg-type]

    assert again.settled == ("ack", False)
    assert store.snapshot() == before
    assert before.models["iris"].jobs_completed == 2


def test_a_batch_with_an_event_counted_before_counts_the_others_and_logs_the_duplicate(
    store: AnalyticsStore, recording_exporter: RecordingExporter, caplog: pytest.LogCaptureFixture
) -> None:
    seen = completed_body("iris")
    asyncio.run(consumer(store).handle(FakeDelivery(seen)))  # type: ignore[arg-type]
    delivery = FakeDelivery(batch_body(completed_body("iris"), seen, completed_body("iris")))

    with caplog.at_level("INFO", logger="app.messaging.analytics"):
        asyncio.run(consumer(store, Tracer(recording_exporter)).handle(delivery))  # type: ignore[arg-type]

    assert delivery.settled == ("ack", False)
    assert store.snapshot().models["iris"].jobs_completed == 3
    assert f"event {json.loads(seen)['id']} was counted before" in caplog.text
    [span] = recording_exporter.spans
    assert (span.attributes["event.duplicate"], span.attributes["event.duplicate_count"]) == (False, 1)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"[]", id="empty"),
        pytest.param(batch_body(completed_body("iris"), b'"not an event"'), id="a-non-object-element"),
        pytest.param(batch_body(completed_body("iris"), b'{"id": "42"}'), id="one-bad-element"),
        pytest.param(batch_body(*[completed_body("iris")] * 1001), id="too-many"),
    ],
)
def test_an_unparsable_batch_is_rejected_whole_and_counts_nothing(store: AnalyticsStore, body: bytes) -> None:
    delivery = FakeDelivery(body)

    asyncio.run(consumer(store).handle(delivery))  # type: ignore[arg-type]

    assert delivery.settled == ("reject", False)
    assert store.snapshot().events == {}


def test_a_batch_larger_than_a_transaction_goes_alone_and_smaller_messages_share_around_it(
    store: AnalyticsStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    transactions: list[list[str]] = []
    record_many = store.record_many

    def noting(events: list[Event]) -> list[bool]:
        transactions.append([str(event.envelope.id) for event in events])
        return record_many(events)

    monkeypatch.setattr(store, "record_many", noting)
    monkeypatch.setattr(AnalyticsConsumer, "MAX_BATCH", 4)
    channel = FakeChannel()
    large = [completed_body("iris") for _ in range(6)]
    bodies = [*(completed_body("iris") for _ in range(3)), batch_body(*large), *(completed_body("iris") for _ in range(5))]
    deliveries = [FakeDelivery(body, channel=channel) for body in bodies]

    handle_together(consumer(store), deliveries)

    large_ids = [json.loads(body)["id"] for body in large]
    assert large_ids in transactions  # all of it in one transaction, alone
    assert all(len(ids) <= 4 for ids in transactions if ids != large_ids)
    assert max(len(ids) for ids in transactions if ids != large_ids) > 1  # the others did share
    assert all(delivery.settled == ("ack", False) for delivery in deliveries)
    assert store.snapshot().models["iris"].jobs_completed == 14


def test_a_batch_whose_event_fails_is_rejected_whole_and_the_messages_sharing_its_transaction_are_counted(
    store: AnalyticsStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    effects = analytics_store.event_effects
    # The "broken" model's counts violate NOT NULL: its transaction fails.
    monkeypatch.setattr(
        analytics_store, "event_effects", lambda e: [(None, *effect[1:]) if effect[0] == "broken" else effect for effect in effects(e)]
    )
    channel = FakeChannel()
    bad_body = batch_body(completed_body("iris"), completed_body("broken"), completed_body("iris"))
    deliveries = [FakeDelivery(completed_body("iris"), channel=channel) for _ in range(5)]
    deliveries.insert(2, FakeDelivery(bad_body, channel=channel))

    handle_together(consumer(store), deliveries)

    assert deliveries[2].settled == ("reject", False)
    assert all(delivery.settled == ("ack", False) for delivery in deliveries if delivery is not deliveries[2])
    assert store.snapshot().models["iris"].jobs_completed == 5  # never a part of a message


def test_a_batchs_span_counts_its_events_and_links_the_traces_of_events_from_other_traces(
    store: AnalyticsStore, recording_exporter: RecordingExporter
) -> None:
    other_traces = ["0af7651916cd43dd8448eb211c80319c", "5b8efff798038103d269b633813fc60c"]
    other = [f"00-{trace_id}-b7ad6b7169203331-01" for trace_id in other_traces]
    bodies = [
        completed_body("iris", traceparent=INCOMING_TRACEPARENT),  # the message's own trace: the span's parent
        completed_body("iris", traceparent=other[0]),
        completed_body("iris"),  # no trace known
        completed_body("iris", traceparent=other[1]),
        completed_body("iris", traceparent=other[0]),  # one link per trace
        completed_body("iris", traceparent="not a traceparent"),
    ]
    delivery = FakeDelivery(batch_body(*bodies), {"traceparent": INCOMING_TRACEPARENT})

    asyncio.run(consumer(store, Tracer(recording_exporter)).handle(delivery))  # type: ignore[arg-type]

    [span] = recording_exporter.spans
    assert (span.trace_id, span.parent_span_id) == (INCOMING_TRACE_ID, INCOMING_TRACEPARENT.split("-")[2])
    assert span.attributes["messaging.batch.message_count"] == 6
    assert span.attributes["messaging.message.id"] == json.loads(bodies[0])["id"]
    assert span.attributes["event.type"] == "job.completed"
    assert [(link.trace_id, link.span_id) for link in span.links] == [
        (trace_id, "b7ad6b7169203331") for trace_id in other_traces
    ]


def test_two_replicas_on_one_postgres_database_count_each_event_once_and_report_the_same(postgres: object) -> None:
    from tests.messaging.postgres import PostgresServer

    assert isinstance(postgres, PostgresServer)
    schema, conninfo = postgres.create_schema()
    first, second = AnalyticsStore.postgres(conninfo), AnalyticsStore.postgres(conninfo)
    try:
        events = [prediction_made("iris", "1.0.0", {"setosa": 1}) for _ in range(20)]
        # Each replica receives every event (a redelivery after a lost ack reaches either); each is counted once.
        with ThreadPoolExecutor(max_workers=4) as pool:
            recorded = list(pool.map(lambda pair: pair[0].record(pair[1]),
                                     [(store, event) for event in events for store in (first, second)]))

        assert recorded.count(True) == 20
        assert first.snapshot() == second.snapshot()
        assert second.snapshot().models["iris"].predictions == 20
    finally:
        first.close()
        second.close()
        postgres.execute(f"DROP SCHEMA {schema} CASCADE")


def test_replicas_starting_on_a_missing_postgres_database_create_it_once(postgres: PostgresServer) -> None:
    # Upper case and a dash: the name is created as the quoted identifier the connection string names.
    name = f"Analytics-{uuid.uuid4().hex[:12]}"
    stores = [AnalyticsStore.postgres(f"host=127.0.0.1 port={postgres.port} user=postgres dbname={name}") for _ in range(3)]
    try:
        with ThreadPoolExecutor(max_workers=3) as pool:
            recorded = list(pool.map(lambda store: store.record(prediction_made("iris", "1.0.0", {"setosa": 1})), stores))

        assert recorded == [True, True, True]
        assert postgres.databases_named(name) == 1
        assert stores[0].snapshot().models["iris"].predictions == 3
    finally:
        for store in stores:
            store.close()
        postgres.drop_database(name)


def test_a_missing_database_is_created_with_the_roles_password_and_not_without_it(postgres: PostgresServer) -> None:
    role, name = f"analytics_{uuid.uuid4().hex[:12]}", f"analytics_{uuid.uuid4().hex[:12]}"
    postgres.execute(f"CREATE ROLE {role} LOGIN CREATEDB PASSWORD 's3cret'")
    postgres.restrict(role, "scram-sha-256")
    conninfo = f"host=127.0.0.1 port={postgres.port} user={role} dbname={name} password="
    wrong, right = AnalyticsStore.postgres(conninfo + "wrong"), AnalyticsStore.postgres(conninfo + "s3cret")
    try:
        with pytest.raises(psycopg.OperationalError, match="password"):
            wrong.snapshot()
        assert postgres.databases_named(name) == 0

        assert right.snapshot().events == {}
        assert postgres.databases_named(name) == 1
    finally:
        wrong.close()
        right.close()
        postgres.drop_database(name)


def test_a_role_that_may_not_create_the_missing_database_gets_a_retryable_error_saying_what_to_create(
    postgres: PostgresServer,
) -> None:
    role, name = f"analytics_{uuid.uuid4().hex[:12]}", f"analytics_{uuid.uuid4().hex[:12]}"
    postgres.execute(f"CREATE ROLE {role} LOGIN")
    store = AnalyticsStore.postgres(f"host=127.0.0.1 port={postgres.port} user={role} dbname={name}")
    try:
        with pytest.raises(store.transient_errors) as refused:
            store.record(prediction_made("iris", "1.0.0", {"setosa": 1}))

        # In the message itself: the consumer logs str(error).
        assert f'CREATE DATABASE "{name}" OWNER "{role}"' in str(refused.value)
        assert postgres.databases_named(name) == 0
        # Once an operator creates it, the next try goes through.
        postgres.execute(f"CREATE DATABASE {name} OWNER {role}")
        assert store.record(prediction_made("iris", "1.0.0", {"setosa": 1})) is True
    finally:
        store.close()
        postgres.drop_database(name)


def test_a_role_that_may_not_reach_the_maintenance_database_gets_the_refusal_to_connect(postgres: PostgresServer) -> None:
    role, name = f"analytics_{uuid.uuid4().hex[:12]}", f"analytics_{uuid.uuid4().hex[:12]}"
    postgres.execute(f"CREATE ROLE {role} LOGIN CREATEDB")
    postgres.restrict(role, "reject", database="postgres")
    store = AnalyticsStore.postgres(f"host=127.0.0.1 port={postgres.port} user={role} dbname={name}")
    try:
        with pytest.raises(store.transient_errors, match=f'database "{name}" does not exist'):
            store.snapshot()
        assert postgres.databases_named(name) == 0
    finally:
        store.close()


def test_an_npgsql_connection_string_becomes_libpq_conninfo() -> None:
    assert postgres_conninfo("Host=127.0.0.1;Port=5433;Username=postgres;Password=s3cr'et;Database=analyticsdb") == (
        "host='127.0.0.1' port='5433' user='postgres' password='s3cr\\'et' dbname='analyticsdb'"
    )
    assert postgres_conninfo("postgresql://u:p@db:5432/analyticsdb") == "postgresql://u:p@db:5432/analyticsdb"

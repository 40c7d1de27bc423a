"""python-inference's analytics consumer alone against a real broker: what one event costs it with one piece of the
consumer done two ways, in alternating rounds, on a throwaway RabbitMQ node. `--compare reader` (the default): aiormq's
own frame reader against FrameReader (app/messaging/frames.py). `--compare parser`: events read by pydantic alone
against the exact-form fast path that the service uses (app/schemas/events.py), both with FrameReader. `--compare
batch`: one event per message against ten (an array of envelopes, as the Worker publishes a job batch's outcomes).

Each round queues N `job.completed` events (as the Worker publishes them: persistent, a traceparent header and
member, one in ten sampled) on `events.analytics`, then starts the real AnalyticsConsumer on a new SQLite store and times it until
every event is counted. CPU is this process's (every thread: the consumer and the store's) and the broker's
(beam.smp), from /proc, over the consuming only. The event loop is uvloop's when it is installed, as under uvicorn.
Prints one table of medians and the ratios to the first way (the older one).

Usage (from the repository root, after scripts/setup.sh):
  python-inference/.venv/bin/python scripts/bench/events_consumer.py [--compare reader|parser|batch] [--events N] [--rounds R]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "python-inference"))

import aio_pika  # noqa: E402
import aiormq.connection  # noqa: E402

from app.core.telemetry import Tracer  # noqa: E402
from app.core.telemetry.sampling import sampler_from  # noqa: E402
from app.messaging import frames  # noqa: E402
from app.messaging.analytics import AnalyticsConsumer, AnalyticsStore  # noqa: E402
from app.schemas import events  # noqa: E402
from procstat import TICK_S, process_ticks  # noqa: E402  (this script's folder is on the path)
from tests.messaging.broker import RabbitMQNode  # noqa: E402

EXACT_EVENT = events._exact_event  # noqa: SLF001 - the piece the parser comparison switches off


EVENTS_PER_MESSAGE = 1


def use(reader: type, exact_form_first: bool = True, per_message: int = 1) -> None:
    global EVENTS_PER_MESSAGE
    aiormq.connection.FrameReceiver = reader  # read by aiormq when the next connection is made
    events._exact_event = EXACT_EVENT if exact_form_first else (lambda value: None)  # noqa: SLF001
    EVENTS_PER_MESSAGE = per_message


COMPARISONS = {
    "reader": ("frame reader", {
        "aiormq's reader": lambda: use(frames.AIORMQ_READER),
        "FrameReader": lambda: use(frames.FrameReader),
    }),
    "parser": ("event parser", {
        "pydantic alone": lambda: use(frames.FrameReader, exact_form_first=False),
        "exact form first": lambda: use(frames.FrameReader),
    }),
    "batch": ("events per message", {
        "one": lambda: use(frames.FrameReader),
        "ten": lambda: use(frames.FrameReader, per_message=10),
    }),
}
EXCHANGE, QUEUE = "events", "events.analytics"


def ticks(pids: list[int]) -> int:
    return sum(process_ticks(pid) for pid in pids)


def envelope(flags: str) -> dict[str, object]:
    return {
        "id": str(uuid.uuid4()),
        "type": "job.completed",
        "occurredAt": "2026-12-04T02:00:00.1234567+00:00",
        "source": "worker",
        "data": {
            "jobId": str(uuid.uuid4()),
            "owner": "bench",
            "model": "sentiment",
            "version": "1.0.0",
            "attempts": 1,
            "predictions": [{"label": "positive", "score": 0.93}],
        },
        "traceparent": traceparent(flags),
    }


def traceparent(flags: str) -> str:
    return f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-{flags}"


async def queue_events(url: str, count: int) -> None:
    connection = await aio_pika.connect(url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.declare_exchange(EXCHANGE, aio_pika.ExchangeType.FANOUT, durable=True)
        queue = await channel.declare_queue(QUEUE, durable=True)
        await queue.bind(exchange)
        pending = []
        for first in range(0, count, EVENTS_PER_MESSAGE):
            batch = [envelope("01" if index % 10 == 0 else "00") for index in range(first, min(first + EVENTS_PER_MESSAGE, count))]
            message = aio_pika.Message(
                json.dumps(batch[0] if len(batch) == 1 else batch).encode(),
                message_id=str(batch[0]["id"]),
                content_type="application/json",
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                headers={"traceparent": batch[0]["traceparent"]},
            )
            pending.append(exchange.publish(message, routing_key="job.completed"))
            if len(pending) == 500:
                await asyncio.gather(*pending)
                pending = []
        await asyncio.gather(*pending)
        queued = (await channel.declare_queue(QUEUE, durable=True, passive=True)).declaration_result.message_count
        messages = -(-count // EVENTS_PER_MESSAGE)
        if queued != messages:
            raise SystemExit(f"events_consumer.py: {queued} messages queued, not {messages}")
    finally:
        await connection.close()


async def consume(url: str, count: int, store_path: Path, broker_pids: list[int]) -> dict[str, float]:
    store = AnalyticsStore(store_path)
    tracer = Tracer(sampler=sampler_from("parentbased_traceidratio", "0.1"))
    consumer = AnalyticsConsumer(store, tracer, exchange_name=EXCHANGE, queue_name=QUEUE)
    connection = await aio_pika.connect_robust(url)
    try:
        started, cpu, broker = time.perf_counter(), time.process_time(), ticks(broker_pids)
        await consumer.attach(connection)
        deadline = time.monotonic() + 300
        while (counted := sum(store.snapshot().events.values())) < count:
            if time.monotonic() > deadline:
                raise SystemExit(f"events_consumer.py: {counted} of {count} events counted after 300 s")
            await asyncio.sleep(0.02)
        seconds = time.perf_counter() - started
        return {
            "events_s": count / seconds,
            "python_ms": (time.process_time() - cpu) * 1000 / count,
            "broker_ms": (ticks(broker_pids) - broker) * 1000 * TICK_S / count,
        }
    finally:
        await consumer.stop(3)
        await connection.close()
        store.close()


def main() -> None:
    try:
        import uvloop  # as uvicorn does (its `--loop auto`), which is how the service runs
    except ImportError:
        pass
    else:
        uvloop.install()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--compare", choices=COMPARISONS, default="reader")
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    state = Path(tempfile.mkdtemp(prefix="events-consumer-bench-"))
    node = RabbitMQNode(state)
    node.start()
    piece, ways = COMPARISONS[args.compare]
    results: dict[str, list[dict[str, float]]] = {name: [] for name in ways}
    try:
        for round_ in range(args.rounds):
            for index, (name, setup) in enumerate(ways.items()):
                setup()
                asyncio.run(queue_events(node.url, args.events))
                result = asyncio.run(consume(node.url, args.events, state / f"{round_}-{index}.db",
                                             node.beam_pids()))
                results[name].append(result)
                print(f"round {round_ + 1}, {name}: {result['events_s']:.0f} events/s, python-inference "
                      f"{result['python_ms']:.3f} ms/event, broker {result['broker_ms']:.3f} ms/event", file=sys.stderr)
    finally:
        node.stop()
        shutil.rmtree(state, ignore_errors=True)

    median = {name: {key: statistics.median(run[key] for run in runs) for key in runs[0]}
              for name, runs in results.items()}
    base = next(iter(median.values()))
    first = next(iter(median))
    print(f"\nanalytics consumer, {args.events} job.completed events a round, {args.rounds} rounds, medians")
    print(f"| {piece} | events/s | python-inference CPU per event (ms) | broker CPU per event (ms) | "
          f"events/s vs {first} | python CPU vs {first} |")
    print("|---|---|---|---|---|---|")
    for name, values in median.items():
        print(f"| {name} | {values['events_s']:.0f} | {values['python_ms']:.3f} | {values['broker_ms']:.3f} | "
              f"{values['events_s'] / base['events_s']:.2f}× | {values['python_ms'] / base['python_ms']:.2f}× |")


if __name__ == "__main__":
    main()

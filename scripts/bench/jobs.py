"""Jobs per second end to end, beside the raw rate of the same broker (run by scripts/bench/jobs.sh).

End to end = POST /api/v1/jobs through the gateway (JWT, validation) → Worker (SQLite + outbox, publish with
confirms) → RabbitMQ (persistent) → a Worker replica (manual ack after the result is committed) → python-inference
→ result recorded. The clock stops at the last job's `updatedAt` (when its result was committed).

Raw = a plain aio-pika client on the same broker, in the same run: persistent messages, publisher confirms,
manual acks, the same number of messages in flight as job submissions.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
import uuid
from datetime import datetime

import aio_pika
import httpx


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def raw_broker_rate(amqp_url: str, messages: int, in_flight: int) -> tuple[float, float]:
    """Messages per second published (persistent, confirmed) and then consumed (manual acks)."""
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        await channel.set_qos(prefetch_count=in_flight)
        queue = await channel.declare_queue(f"bench.raw.{uuid.uuid4().hex[:8]}", durable=True, auto_delete=False)
        body = b'{"jobId":"00000000-0000-7000-8000-000000000000"}'
        semaphore = asyncio.Semaphore(in_flight)

        async def publish(i: int) -> None:
            async with semaphore:
                await channel.default_exchange.publish(
                    aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT, message_id=str(i)),
                    routing_key=queue.name,
                )

        started = time.perf_counter()
        await asyncio.gather(*(publish(i) for i in range(messages)))
        published = messages / (time.perf_counter() - started)

        received = 0
        done = asyncio.Event()
        started = time.perf_counter()

        async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            nonlocal received
            await message.ack()
            received += 1
            if received == messages:
                done.set()

        await queue.consume(on_message)
        await done.wait()
        consumed = messages / (time.perf_counter() - started)
        await queue.delete(if_unused=False, if_empty=False)
        return published, consumed


async def jobs_rate(gateway: str, token: str, jobs: int, batch: int, concurrency: int) -> dict[str, float]:
    headers = {"authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=gateway, headers=headers, limits=limits, timeout=60) as client:
        semaphore = asyncio.Semaphore(concurrency)
        submit_latencies: list[float] = []
        ids: list[str] = []
        run = uuid.uuid4().hex[:8]

        async def submit(i: int) -> None:
            inputs = [f"Review {i}-{k}: the staff were lovely and the room was clean." for k in range(batch)]
            async with semaphore:
                begun = time.perf_counter()
                response = await client.post("/api/v1/jobs", json={"model": "sentiment", "inputs": inputs},
                                             headers={"idempotency-key": f"{run}-{i}"})
                submit_latencies.append(time.perf_counter() - begun)
            if response.status_code != 202:
                raise RuntimeError(f"submission {i}: {response.status_code} {response.text}")
            ids.append(response.json()["id"])

        wall_start = datetime.now().astimezone()
        started = time.perf_counter()
        await asyncio.gather(*(submit(i) for i in range(jobs)))
        submitted = time.perf_counter() - started

        finished: dict[str, dict] = {}
        while len(finished) < jobs:
            await asyncio.sleep(0.25)
            for status in ("succeeded", "failed"):
                token_ = None
                while True:
                    params = {"status": status, "pageSize": 100} | ({"pageToken": token_} if token_ else {})
                    page = (await client.get("/api/v1/jobs", params=params)).json()
                    for job in page["items"]:
                        if job["id"] in ids:
                            finished[job["id"]] = job
                    token_ = page.get("nextPageToken")
                    if not token_:
                        break

        failed = sum(1 for job in finished.values() if job["status"] != "succeeded")
        ends = [datetime.fromisoformat(job["updatedAt"]) for job in finished.values()]
        latencies = [(datetime.fromisoformat(j["updatedAt"]) - datetime.fromisoformat(j["createdAt"])).total_seconds()
                     for j in finished.values()]
        elapsed = (max(ends) - wall_start).total_seconds()
        return {
            "jobs_per_s": jobs / elapsed,
            "items_per_s": jobs * batch / elapsed,
            "submits_per_s": jobs / submitted,
            "submit_p50_ms": statistics.median(submit_latencies) * 1000,
            "submit_p99_ms": percentile(submit_latencies, 0.99) * 1000,
            "e2e_p50_ms": statistics.median(latencies) * 1000,
            "e2e_p99_ms": percentile(latencies, 0.99) * 1000,
            "failed": failed,
        }


async def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--gateway", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--amqp", required=True)
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--json", help="also write the figures to this file (scripts/bench/run.sh reads it)")
    args = parser.parse_args()

    published, consumed = await raw_broker_rate(args.amqp, args.jobs * 5, args.concurrency)
    # Warm-up: JIT, connection pools, model cache.
    await jobs_rate(args.gateway, args.token, 50, 1, args.concurrency)
    single = await jobs_rate(args.gateway, args.token, args.jobs, 1, args.concurrency)
    batched = await jobs_rate(args.gateway, args.token, max(10, args.jobs // 10), 100, args.concurrency)

    print(f"\n{args.concurrency} requests in flight; {args.jobs} jobs of 1 input, {max(10, args.jobs // 10)} jobs of 100 inputs.\n")
    print("| measurement | jobs/s | items/s | vs raw broker (msg/s) | submit p50 / p99 (ms) | submit → result p50 / p99 (ms) | failed |")
    print("|---|---|---|---|---|---|---|")
    print(f"| raw broker: publish, persistent + confirms | {published:,.0f} | | 1.00 | | | |")
    print(f"| raw broker: consume, manual acks | {consumed:,.0f} | | {consumed / published:.2f} | | | |")
    for name, result in (("jobs, 1 input each", single), ("jobs, 100 inputs each", batched)):
        print(f"| {name} | {result['jobs_per_s']:,.1f} | {result['items_per_s']:,.0f} | "
              f"{result['jobs_per_s'] / published:.3f} | {result['submit_p50_ms']:.0f} / {result['submit_p99_ms']:.0f} | "
              f"{result['e2e_p50_ms']:.0f} / {result['e2e_p99_ms']:.0f} | {result['failed']:.0f} |")
    if args.json:
        figures = {"raw_publish_per_s": published, "raw_consume_per_s": consumed, "concurrency": args.concurrency,
                   "single": single | {"jobs": args.jobs, "inputs": 1},
                   "batched": batched | {"jobs": max(10, args.jobs // 10), "inputs": 100}}
        with open(args.json, "w", encoding="utf-8") as file:
            json.dump(figures, file, indent=2)
    return 0 if single["failed"] == 0 and batched["failed"] == 0 else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))

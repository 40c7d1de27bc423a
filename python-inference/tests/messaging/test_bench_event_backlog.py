"""The jobs benchmark's wait for the events queues (scripts/bench/jobs.py, EventBacklog) against the real broker: a
profile reads the CPU only once the jobs' events are consumed, and says what was still queued."""

from __future__ import annotations

import asyncio
import uuid

import aio_pika
import pytest

from tests.bench.test_jobs_driver import jobs
from tests.messaging.broker import RabbitMQNode


def test_waits_until_the_events_queues_are_empty_and_says_what_was_queued(
    broker: RabbitMQNode, monkeypatch: pytest.MonkeyPatch
) -> None:
    audit, analytics, missing = (f"bench-backlog-{name}-{uuid.uuid4().hex[:6]}" for name in ("a", "b", "c"))
    monkeypatch.setattr(jobs.EventBacklog, "QUEUES", (audit, analytics, missing))

    async def scenario() -> tuple[dict, bool, int]:
        connection = await aio_pika.connect(broker.url)
        async with connection:
            channel = await connection.channel(publisher_confirms=True)
            await channel.declare_queue(audit, auto_delete=False)
            queue = await channel.declare_queue(analytics, auto_delete=False)
            for index in range(30):
                await channel.default_exchange.publish(aio_pika.Message(str(index).encode()), analytics)

            draining = asyncio.ensure_future(jobs.EventBacklog(broker.url).drain(limit_s=30))
            await asyncio.sleep(1.0)
            waited = not draining.done()  # 30 messages still queued: it must not have returned
            consumed = 0
            async with queue.iterator() as messages:
                async for message in messages:
                    await message.ack()
                    consumed += 1
                    if consumed == 30:
                        break
            result = await asyncio.wait_for(draining, 10)
            await channel.queue_delete(audit)
            await channel.queue_delete(analytics)
            return result, waited, consumed

    result, waited, consumed = asyncio.run(scenario())

    assert waited and consumed == 30
    assert result["queued"] == {audit: 0, analytics: 30}  # the queue that does not exist is left out
    assert 1.0 <= result["drain_s"] < 10

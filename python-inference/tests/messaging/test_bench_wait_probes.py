"""The jobs benchmark's wait probes (scripts/bench/jobs.py, WaitProbes) against a real broker, a real PostgreSQL and
the disk: each takes readings while it runs and leaves nothing behind. They live with the messaging tests, which
start the broker and the database for the session; the benchmark's arithmetic is tested in tests/bench."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aio_pika
import psycopg
import pytest

from tests.bench.scripts import load_bench_script
from tests.messaging.broker import RabbitMQNode
from tests.messaging.postgres import PostgresServer

jobs = load_bench_script("jobs.py", "bench_jobs")


def test_every_probe_takes_readings_while_it_runs_and_leaves_nothing_behind(
        broker: RabbitMQNode, postgres: PostgresServer, tmp_path: Path) -> None:
    async def probe() -> dict[str, list[tuple[float, float]]]:
        probes = jobs.WaitProbes(broker.url, str(tmp_path), postgres.conninfo())
        await probes.start()
        await asyncio.sleep(0.5)
        return await probes.stop()

    readings = asyncio.run(probe())

    names = (jobs.WaitProbes.DISK, jobs.WaitProbes.BROKER, jobs.WaitProbes.POSTGRES)  # the timer: HostWatch
    assert set(readings) == set(names)
    for name in names:
        # 0.5 s at one reading every 25 ms and its wait: a few at least, each a wait of zero or more milliseconds.
        assert len(readings[name]) >= 3, f"{name}: {readings[name]}"
        assert all(ms >= 0 for _, ms in readings[name]), name
    assert list(tmp_path.iterdir()) == []  # the synced file removed

    async def probe_queue_is_gone() -> bool:
        connection = await aio_pika.connect(broker.url)
        async with connection:
            channel = await connection.channel()
            try:
                await channel.declare_queue(jobs.WaitProbes.QUEUE, passive=True)
            except aio_pika.exceptions.ChannelClosed:
                return True
            return False

    assert asyncio.run(probe_queue_is_gone())
    with psycopg.connect(postgres.conninfo(), autocommit=True) as connection:
        assert connection.execute("SELECT to_regclass('bench_wait_probe')").fetchone() == (None,)


def test_probes_that_cannot_reach_the_broker_say_so_at_the_start(tmp_path: Path) -> None:
    async def probe() -> None:
        probes = jobs.WaitProbes("amqp://guest:guest@127.0.0.1:1/", str(tmp_path))
        try:
            await probes.start()
        finally:
            await probes.stop()

    with pytest.raises(OSError):
        asyncio.run(probe())

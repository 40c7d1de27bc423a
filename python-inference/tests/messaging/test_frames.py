"""FrameReader (app/messaging/frames.py) against aiormq's own reader: the same frames from the same bytes however
they arrive, the same errors when the broker goes quiet or away, and in use on the service's connection."""

from __future__ import annotations

import asyncio
import gc
import random
import warnings
from typing import Any

import aio_pika
import aiormq
import aiormq.connection
import pamqp.frame
import pytest
from pamqp import commands, header
from pamqp.body import ContentBody
from pamqp.exceptions import AMQPFrameError, AMQPSyntaxError
from pamqp.heartbeat import Heartbeat

from app.messaging import frames
from app.messaging.connection import BrokerConnection
from app.messaging.frames import FrameReader
from tests.messaging.broker import RabbitMQNode

AIORMQ_READER = frames.AIORMQ_READER


def wire(channel: int, *frames_: object) -> bytes:
    return b"".join(pamqp.frame.marshal(frame, channel) for frame in frames_)


def deliveries(count: int) -> bytes:
    """`count` deliveries on channel 1 as the broker sends them (method, content header, body), a heartbeat between
    them now and then; bodies of every size up to a few kilobytes."""
    rng = random.Random(7)
    parts = []
    for tag in range(1, count + 1):
        body = bytes(rng.getrandbits(8) for _ in range(rng.choice([0, 1, 40, 700, 5000])))
        parts.append(
            wire(
                1,
                commands.Basic.Deliver("ctag", tag, False, "events", "job.completed"),
                header.ContentHeader(0, len(body), commands.Basic.Properties(message_id=f"m{tag}")),
                *([ContentBody(body)] if body else []),
            )
        )
        if tag % 5 == 0:
            parts.append(wire(0, Heartbeat()))
    return b"".join(parts)


def frame_count(data: bytes) -> int:
    """How many frames `data` holds, by their size fields (type 1 byte, channel 2, size 4, payload, end octet)."""
    count = at = 0
    while at < len(data):
        at += 7 + int.from_bytes(data[at + 3 : at + 7], "big") + 1
        count += 1
    return count


async def read_frames(
    reader_class: type, stream: asyncio.StreamReader, count: int, timeout: float = 5.0
) -> list[tuple[int, int, bytes]]:
    """`count` frames, each as (size on the wire, channel, the frame marshalled again): pamqp's frames do not
    compare."""
    receiver = reader_class(stream, timeout)
    read = []
    for _ in range(count):
        size, channel, frame = await receiver.get_frame()
        read.append((size, channel, pamqp.frame.marshal(frame, channel)))
    return read


async def fed_in_pieces(data: bytes, rng: random.Random) -> asyncio.StreamReader:
    """A stream that gets `data` in pieces of random sizes, with pauses."""
    stream = asyncio.StreamReader()

    async def feed() -> None:
        at = 0
        while at < len(data):
            size = rng.choice([1, 2, 3, 7, 8, 64, 1000, 9000])
            stream.feed_data(data[at : at + size])
            at += size
            if rng.random() < 0.3:
                await asyncio.sleep(0)

    asyncio.get_running_loop().create_task(feed())
    return stream


@pytest.mark.parametrize("seed", range(5))
def test_reads_the_frames_aiormq_reads_however_the_bytes_arrive(seed: int) -> None:
    data = deliveries(60)

    async def both() -> tuple[list[tuple[int, int, bytes]], list[tuple[int, int, bytes]]]:
        count = frame_count(data)
        ours = await read_frames(FrameReader, await fed_in_pieces(data, random.Random(seed)), count)
        theirs = await read_frames(AIORMQ_READER, await fed_in_pieces(data, random.Random(seed)), count)
        return ours, theirs

    ours, theirs = asyncio.run(both())

    assert ours == theirs
    assert b"".join(frame for _, _, frame in ours) == data
    assert [channel for _, channel, _ in ours].count(0) == 12  # the heartbeats


def test_a_frame_that_does_not_arrive_in_time_is_a_timeout_as_with_aiormq() -> None:
    async def stalled(reader_class: type) -> tuple[type[BaseException], float]:
        stream = asyncio.StreamReader()
        stream.feed_data(wire(1, commands.Basic.Ack(1))[:5])  # half a frame, then nothing
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(TimeoutError) as raised:
            await reader_class(stream, 0.2).get_frame()
        return raised.type, loop.time() - started

    async def both() -> list[tuple[type[BaseException], float]]:
        return [await stalled(FrameReader), await stalled(AIORMQ_READER)]

    with warnings.catch_warnings():
        # aiormq's reader leaves its lock's exit coroutine unawaited when the deadline passes; collected here.
        warnings.filterwarnings("ignore", "coroutine .* was never awaited", RuntimeWarning)
        (ours, ours_after), (theirs, _) = asyncio.run(both())
        gc.collect()

    assert issubclass(ours, TimeoutError) and issubclass(theirs, TimeoutError)
    assert 0.15 < ours_after < 2.0


def test_a_connection_closed_mid_frame_is_a_frame_error_and_at_a_frame_boundary_the_end() -> None:
    async def scenario() -> tuple[list[tuple[int, Any]], type[BaseException]]:
        whole = asyncio.StreamReader()
        whole.feed_data(wire(1, commands.Basic.Ack(1), commands.Basic.Ack(2)))
        whole.feed_eof()
        receiver = FrameReader(whole, 5.0)
        frames_read = [(channel, frame) async for _, channel, frame in receiver]

        cut = asyncio.StreamReader()
        cut.feed_data(wire(1, commands.Basic.Ack(1))[:-3])
        cut.feed_eof()
        with pytest.raises(AMQPFrameError) as raised:
            await FrameReader(cut, 5.0).get_frame()
        return frames_read, raised.type

    frames_read, error = asyncio.run(scenario())

    assert [(channel, frame.delivery_tag) for channel, frame in frames_read] == [(1, 1), (1, 2)]
    assert error is AMQPFrameError


def test_a_broker_that_answers_with_another_protocol_version_is_refused() -> None:
    async def scenario() -> None:
        stream = asyncio.StreamReader()
        stream.feed_data(b"AMQP\x00\x00\x09\x01")  # a broker's protocol header: it does not speak 0-9-1 as asked
        with pytest.raises(AMQPSyntaxError):
            await FrameReader(stream, 5.0).get_frame()

    asyncio.run(scenario())


def test_install_replaces_aiormqs_reader_only_for_a_checked_version(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aiormq.connection, "FrameReceiver", AIORMQ_READER)
    monkeypatch.setattr(aiormq, "__version__", "7.0.0")
    assert frames.install() is False
    assert aiormq.connection.FrameReceiver is AIORMQ_READER

    monkeypatch.setattr(aiormq, "__version__", "6.4.2")
    assert frames.install() is True
    assert frames.install() is True  # idempotent
    assert aiormq.connection.FrameReceiver is FrameReader


def test_the_service_connection_reads_with_it_and_events_flow(broker: RabbitMQNode) -> None:
    """Through BrokerConnection (which installs the reader), 500 messages published on one channel are consumed on
    another, each once, with their bodies intact."""
    if not aiormq.__version__.startswith(frames.CHECKED):
        pytest.skip(f"aiormq {aiormq.__version__}: FrameReader is not installed for it")
    received: list[bytes] = []

    async def scenario() -> None:
        all_in = asyncio.Event()

        async def consume(connection: aio_pika.abc.AbstractRobustConnection) -> None:
            channel = await connection.channel()
            queue = await channel.declare_queue(exclusive=True)

            async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
                received.append(message.body)
                await message.ack()
                if len(received) == 500:
                    all_in.set()

            await queue.consume(on_message)
            publisher = await connection.channel()
            for index in range(500):
                await publisher.default_exchange.publish(aio_pika.Message(b"x" * (index * 17)), queue.name)

        connection = BrokerConnection(broker.url, connection_name="test-frames", on_connected=[consume])
        assert aiormq.connection.FrameReceiver is FrameReader  # in place before the connection is made
        connection.start()
        try:
            await asyncio.wait_for(all_in.wait(), 30)
        finally:
            await connection.close()

    asyncio.run(scenario())

    assert sorted(received, key=len) == [b"x" * (index * 17) for index in range(500)]

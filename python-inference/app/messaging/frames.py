"""A cheaper way for aiormq to read AMQP frames off the socket.

aiormq 6.4 (Debian bookworm's, under aio-pika 8.2) reads each frame in five steps, taking its lock, three reads and
releasing the lock, and wraps each step in `asyncio.wait_for` to enforce the receive timeout (the heartbeat grace).
On Python 3.11 each `wait_for` with a timeout is a new task and a timer, and every task takes a turn of the event loop.
A delivery is three frames (method, header, body), so one event cost 15 tasks and about 45 loop turns. The analytics
consumer spent three fifths of its CPU there (docs/performance-history.md, "The frame reader").

`FrameReader` reads the same frames under one deadline per frame (`asyncio.timeout`: one timer handle, no task), and
its reads complete without a loop turn when the bytes are already buffered, which under load they mostly are. What it
returns and raises is what aiormq's own reader does: a frame read from end to end within the receive timeout, an
`AMQPFrameError` when the broker closed the connection mid-frame, a `TimeoutError` when no frame came in time.

`install()` puts it in place of aiormq's reader, only for the aiormq versions it was checked against (`CHECKED`);
with any other version aiormq reads as it always did.
"""

from __future__ import annotations

import asyncio
import logging

import aiormq
import aiormq.connection
import pamqp.frame
from pamqp.exceptions import AMQPFrameError, AMQPInternalError, AMQPSyntaxError

logger = logging.getLogger(__name__)

# aiormq releases whose FrameReceiver this reader was read against and tested with (its constructor, attributes and
# what get_frame returns and raises).
CHECKED = ("6.4.",)

# The fixed part of a frame: type (1 byte), channel (2), payload size (4). The payload follows, then the end octet.
_HEADER_SIZE = 7

# aiormq's own reader, which FrameReader extends and `install` replaces.
AIORMQ_READER = aiormq.connection.FrameReceiver


class FrameReader(AIORMQ_READER):  # type: ignore[misc, valid-type]
    async def get_frame(self) -> aiormq.connection.ReceivedFrame:
        if self.reader.at_eof():
            del self.reader
            raise StopAsyncIteration
        try:
            async with asyncio.timeout(self.timeout), self.lock:
                header = await self.reader.readexactly(_HEADER_SIZE)
                if not self.started and header.startswith(b"AMQP"):
                    # The broker answered our protocol header with its own: it speaks another AMQP version.
                    raise AMQPSyntaxError
                self.started = True
                _, _, size = pamqp.frame.frame_parts(header)
                if size is None:
                    raise AMQPInternalError("No frame length", None)
                payload = await self.reader.readexactly(size + 1)
        except asyncio.IncompleteReadError as error:
            raise AMQPFrameError("Server connection unexpectedly closed") from error
        except TimeoutError as error:
            raise TimeoutError(f"Server connection was stuck: no frame was received in {self.timeout} s") from error
        return pamqp.frame.unmarshal(header + payload)


def install() -> bool:
    """Read frames with `FrameReader` from the next connection on, if this aiormq is one it was checked against.
    Idempotent; whether it is in place."""
    if aiormq.connection.FrameReceiver is FrameReader:
        return True
    if not aiormq.__version__.startswith(CHECKED):
        logger.info("aiormq %s: its own frame reader is kept (FrameReader was checked with %s)",
                    aiormq.__version__, ", ".join(f"{prefix}x" for prefix in CHECKED))
        return False
    aiormq.connection.FrameReceiver = FrameReader
    return True

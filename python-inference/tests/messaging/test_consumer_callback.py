"""consumer_callback: the wrapper every consumer gives `queue.consume`, run as aio-pika runs a consumer's callback (its
own `create_task`, whose done callback raises whatever the task ended with into the event loop)."""

from __future__ import annotations

import asyncio
import logging
from types import SimpleNamespace
from typing import Any

import pytest
from aio_pika.tools import create_task

from app.messaging.delivery import consumer_callback


async def run_as_aio_pika_does(handler: Any, *, cancel: bool) -> list[dict[str, Any]]:
    """Run `handler` on one delivery as aio-pika 8.2 does, cancelled in progress or not; what reached the loop's
    exception handler."""
    loop = asyncio.get_running_loop()
    unhandled: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _, context: unhandled.append(context))
    task = create_task(handler, SimpleNamespace(delivery_tag=7))
    await asyncio.sleep(0.01)
    if cancel:
        task.cancel()
    await asyncio.wait([task])
    await asyncio.sleep(0)  # the done callback runs on the next turn
    return unhandled


async def waits_forever(message: Any) -> None:
    await asyncio.Event().wait()


async def fails(message: Any) -> None:
    raise ValueError(f"delivery {message.delivery_tag} is bad")


def test_the_unwrapped_callback_cancelled_in_progress_reaches_the_loop_as_an_unhandled_exception() -> None:
    """What the wrapper is for: aio-pika's own behaviour, which a new aio-pika could change."""
    unhandled = asyncio.run(run_as_aio_pika_does(waits_forever, cancel=True))
    assert [type(context.get("exception")) for context in unhandled] == [asyncio.CancelledError]


def test_a_delivery_cancelled_in_progress_ends_quietly_with_one_log_line(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="app.messaging.delivery")
    assert asyncio.run(run_as_aio_pika_does(consumer_callback(waits_forever), cancel=True)) == []
    assert [record.getMessage() for record in caplog.records] == [
        "delivery 7 was cancelled in progress as its channel closed (the broker will redeliver it)"
    ]


def test_a_handlers_own_error_still_reaches_the_loop() -> None:
    unhandled = asyncio.run(run_as_aio_pika_does(consumer_callback(fails), cancel=False))
    assert [str(context.get("exception")) for context in unhandled] == ["delivery 7 is bad"]


def test_a_delivery_handled_to_the_end_leaves_nothing() -> None:
    handled: list[int] = []

    async def handler(message: Any) -> None:
        handled.append(message.delivery_tag)

    wrapped = consumer_callback(handler)
    assert asyncio.run(run_as_aio_pika_does(wrapped, cancel=False)) == []
    assert handled == [7] and wrapped.__wrapped__ is handler  # type: ignore[attr-defined]

"""The models' threads (app/ml/executor.py): calls run off the event loop, at most `threads` at once, each answer to
its own caller, errors handed back, cancelled callers skipped, and the threads end when the executor does."""

from __future__ import annotations

import asyncio
import gc
import threading
import time

import pytest

from app.ml.executor import ModelExecutor
from tests.support import wait_until


def model_threads() -> set[threading.Thread]:
    return {thread for thread in threading.enumerate() if thread.name.startswith("model_")}


def test_each_call_runs_on_a_model_thread_and_answers_its_own_caller() -> None:
    executor = ModelExecutor(2)

    async def main() -> list[tuple[int, str]]:
        loop_thread = threading.current_thread().name
        calls = (executor.run(lambda i: (i * i, threading.current_thread().name), i) for i in range(200))
        answers = await asyncio.gather(*calls)
        assert all(name != loop_thread for _, name in answers)
        return answers

    answers = asyncio.run(main())
    assert [square for square, _ in answers] == [i * i for i in range(200)]
    assert {name for _, name in answers} <= {"model_0", "model_1"}
    executor.close()


def test_no_more_than_threads_calls_run_at_once() -> None:
    executor = ModelExecutor(2)
    running, most = 0, 0
    lock = threading.Lock()

    def busy() -> None:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.02)
        with lock:
            running -= 1

    async def main() -> None:
        await asyncio.gather(*(executor.run(busy) for _ in range(10)))

    asyncio.run(main())
    assert most == 2
    executor.close()


def test_the_loop_keeps_running_while_a_model_works() -> None:
    executor = ModelExecutor(1)

    async def main() -> int:
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.01)

        ticker = asyncio.create_task(tick())
        await executor.run(time.sleep, 0.3)
        ticker.cancel()
        return ticks

    assert asyncio.run(main()) >= 10
    executor.close()


def test_an_error_reaches_its_caller_and_the_thread_serves_on() -> None:
    executor = ModelExecutor(1)

    def fail(message: str) -> None:
        raise ValueError(message)

    def stop() -> None:
        raise StopIteration  # a future cannot carry one; the caller gets a RuntimeError instead of waiting forever

    async def main() -> int:
        with pytest.raises(ValueError, match="bad input"):
            await executor.run(fail, "bad input")
        with pytest.raises(RuntimeError, match="StopIteration"):
            await asyncio.wait_for(executor.run(stop), 5)
        return await executor.run(lambda: 42)

    assert asyncio.run(main()) == 42
    executor.close()


def test_a_caller_cancelled_while_it_waits_for_a_thread_is_skipped() -> None:
    executor = ModelExecutor(1)
    ran: list[str] = []
    release = threading.Event()

    async def main() -> None:
        first = asyncio.create_task(executor.run(release.wait, 5))
        await asyncio.sleep(0.05)  # the one thread is now in release.wait
        second = asyncio.create_task(executor.run(ran.append, "cancelled caller"))
        await asyncio.sleep(0.05)
        second.cancel()
        with pytest.raises(asyncio.CancelledError):
            await second
        release.set()
        assert await first is True
        await executor.run(ran.append, "next caller")

    asyncio.run(main())
    assert ran == ["next caller"]
    executor.close()


def test_an_answer_for_a_loop_that_has_closed_is_dropped() -> None:
    executor = ModelExecutor(1)
    release = threading.Event()

    async def leave_early() -> None:
        asyncio.get_running_loop().create_task(executor.run(release.wait, 5))
        await asyncio.sleep(0.05)

    asyncio.run(leave_early())  # closes its loop while the call is still running
    release.set()

    async def main() -> str:
        return await asyncio.wait_for(executor.run(lambda: "still serving"), 5)

    assert asyncio.run(main()) == "still serving"
    executor.close()


def test_the_threads_start_on_first_use_and_end_when_the_executor_is_closed_or_collected() -> None:
    before = model_threads()
    closed, collected = ModelExecutor(2), ModelExecutor(2)
    assert model_threads() == before

    async def use(executor: ModelExecutor) -> None:
        await executor.run(lambda: None)

    asyncio.run(use(closed))
    asyncio.run(use(collected))
    assert len(model_threads() - before) == 4

    closed.close()
    for refused in (closed, _closed_executor()):
        with pytest.raises(RuntimeError, match="closed"):
            asyncio.run(use(refused))
    del collected
    gc.collect()
    wait_until(lambda: model_threads() <= before, f"the model threads to fall back to {before}", timeout=5.0)


def _closed_executor() -> ModelExecutor:
    executor = ModelExecutor(1)
    executor.close()
    return executor


def test_at_least_one_thread() -> None:
    with pytest.raises(ValueError):
        ModelExecutor(0)


def test_calls_queued_before_close_are_answered_and_later_ones_refused() -> None:
    executor = ModelExecutor(1)
    release = threading.Event()

    async def main() -> list[object]:
        busy = asyncio.create_task(executor.run(release.wait, 5))
        await asyncio.sleep(0.05)  # the one thread is now in release.wait
        queued = asyncio.create_task(executor.run(lambda: "queued before close"))
        await asyncio.sleep(0.01)
        executor.close()
        with pytest.raises(RuntimeError, match="closed"):
            await executor.run(lambda: "after close")
        release.set()
        return list(await asyncio.wait_for(asyncio.gather(busy, queued), 5))

    assert asyncio.run(main()) == [True, "queued before close"]

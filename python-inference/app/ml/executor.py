"""Where the models run: a bounded pool of threads beside the event loop, never the loop itself. The loop also serves
health probes, gRPC and HTTP, and a prediction holds the CPU for milliseconds; scikit-learn and numpy release the GIL
for much of that work, so two threads on two cores also predict faster than one.

The pool is ours rather than `loop.run_in_executor` on a `ThreadPoolExecutor`: that hand-off wraps every call in a
`concurrent.futures.Future` chained to an asyncio one (locks, a condition, callbacks on both sides), which cost about
50 µs of python-inference's CPU per prediction, 6 % of a single's (docs/performance.md, "The model's threads"). Here a
call is one queue entry, and its answer one `call_soon_threadsafe` onto the waiting future."""

from __future__ import annotations

import asyncio
import queue
import threading
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

_Job = tuple[asyncio.AbstractEventLoop, "asyncio.Future[Any]", Callable[..., Any], tuple[Any, ...]]
_STOP = None  # a thread's last entry: the executor has been closed or collected


class ModelExecutor:
    def __init__(self, threads: int) -> None:
        if threads < 1:
            raise ValueError("a model executor needs at least one thread")
        self.threads = threads
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._started = False
        self._lock = threading.Lock()  # starting, queueing and closing
        # The threads hold the queue, not the executor, so an executor nobody holds (a test's app) lets them go.
        self._finalizer = weakref.finalize(self, _stop_threads, self._jobs, threads)

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        """`function(*args)` on a model thread; the caller's task waits without holding the loop. A caller cancelled
        before a thread takes its call is skipped; once taken, the call runs to its end and its answer is dropped."""
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[T] = loop.create_future()
        # Under the lock, so a call is queued either before a `close` (and served) or after it (and refused), never
        # behind the threads' stop entries where nobody would take it.
        with self._lock:
            if not self._started:
                self._start()
            self._jobs.put((loop, answer, function, args))
        return await answer

    def close(self) -> None:
        """Let the threads end once the calls queued before this one are done; later calls are refused."""
        with self._lock:
            self._finalizer()
            self._started = False

    def _start(self) -> None:
        if not self._finalizer.alive:
            raise RuntimeError("the model executor is closed")
        for index in range(self.threads):
            threading.Thread(target=_work, args=(self._jobs,), name=f"model_{index}", daemon=True).start()
        self._started = True


def _stop_threads(jobs: queue.SimpleQueue[_Job | None], threads: int) -> None:
    for _ in range(threads):
        jobs.put(_STOP)


def _work(jobs: queue.SimpleQueue[_Job | None]) -> None:
    while (job := jobs.get()) is not _STOP:
        _serve(*job)
        del job  # hold nothing of a finished call while waiting for the next


def _serve(
    loop: asyncio.AbstractEventLoop, answer: asyncio.Future[Any], function: Callable[..., Any], args: tuple[Any, ...]
) -> None:
    if answer.cancelled():  # the caller went away while the call waited for a thread
        return
    try:
        outcome: tuple[bool, Any] = (True, function(*args))
    except StopIteration as error:  # a future cannot hold one (asyncio would refuse it)
        outcome = (False, RuntimeError(f"the model call raised StopIteration: {error}"))
    except BaseException as error:  # noqa: BLE001 - handed to the caller, as run_in_executor would
        outcome = (False, error)
    try:
        loop.call_soon_threadsafe(_settle, answer, outcome)
    except RuntimeError:  # the loop has closed: nobody waits for this answer any more
        pass


def _settle(answer: asyncio.Future[Any], outcome: tuple[bool, Any]) -> None:
    if answer.done():  # cancelled while the model worked
        return
    succeeded, value = outcome
    if succeeded:
        answer.set_result(value)
    else:
        answer.set_exception(value)

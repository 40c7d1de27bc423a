"""Where the models run: a bounded pool of threads beside the event loop, never the loop itself. The loop also serves
health probes, gRPC and HTTP, and a prediction holds the CPU for milliseconds; scikit-learn and numpy release the GIL
for much of that work, so two threads on two cores also predict faster than one."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


class ModelExecutor:
    def __init__(self, threads: int) -> None:
        self.threads = threads
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="model")

    async def run(self, function: Callable[..., T], *args: object) -> T:
        """`function(*args)` on a model thread; the caller's task waits without holding the loop."""
        return await asyncio.get_running_loop().run_in_executor(self._pool, functools.partial(function, *args))

"""Registration with the Worker's model registry: every loaded model version is registered, then each model serves
the version the registry says is active. The transport is gRPC (`registry.v1.ModelRegistry`) or HTTP/JSON
(`/v1/registry`), chosen by `Registry__Transport` (app/worker/grpc_client.py, app/worker/http_client.py); either way
each call carries this service's token (app/core/service_token.py).

It runs as a background task started by the app's lifespan, so neither start-up nor serving waits for the Worker:
until it answers, each model serves its default version. While the Worker is unreachable a call is retried with
exponential back-off and jitter, forever; any answer of the Worker's (a refusal) is final for that call and logged.
Registration is idempotent on the Worker's side, so registering again after a restart is fine.

After that, the task asks for the active versions again every `RESYNC_INTERVAL_S`: `model.activated` switches a
replica at once, but a replica whose broker connection was down when the event went out (its queue is its own and
goes with the connection) would otherwise serve the old version until it restarts.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from app.ml.model import ServedModel
from app.ml.registry import ModelRegistry, VersionNotFoundError
from app.worker.client import RegistryClient, RegistryRefused, RegistryUnavailable

logger = logging.getLogger(__name__)

Result = TypeVar("Result")


class ModelRegistration:
    INITIAL_BACKOFF_S = 0.5
    MAX_BACKOFF_S = 10.0
    RESYNC_INTERVAL_S = 30.0

    def __init__(
        self,
        registry: ModelRegistry,
        client: RegistryClient,
        *,
        initial_backoff: float | None = None,
        max_backoff: float | None = None,
    ) -> None:
        self.client = client
        self.url = client.url
        self._registry = registry
        self._initial_backoff = self.INITIAL_BACKOFF_S if initial_backoff is None else initial_backoff
        self._max_backoff = self.MAX_BACKOFF_S if max_backoff is None else max_backoff
        self._task: asyncio.Task[None] | None = None
        self.registered: list[tuple[str, str]] = []  # (name, version) the registry accepted, in order
        self.synced = False  # every version registered and the active ones asked for

    def start(self) -> None:
        """Register in the background; returns at once. Opens the one connection pool all calls share."""
        self.client.open()
        self._task = asyncio.create_task(self._run(), name="model-registration")

    async def _run(self) -> None:
        await self.register(self._registry.all_versions())
        names = sorted({model.name for model in self._registry.all_versions()})
        while True:
            await asyncio.sleep(self.RESYNC_INTERVAL_S)
            for name in names:
                await self._serve_active(name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        await self.client.close()

    async def register(self, models: Sequence[ServedModel]) -> None:
        """Register `models` (call again whenever a model is trained or loaded), then serve the active versions."""
        for model in models:
            what = f"registering {model.name} {model.version}"
            try:
                await self._call(what, lambda model=model: self.client.register(model))  # type: ignore[misc]
            except RegistryRefused as refusal:
                logger.error("%s with the model registry failed: %s %s", what, refusal.reason, refusal.detail)
                continue
            self.registered.append((model.name, model.version))
            logger.info(
                "registered %s %s (sha256 %s) with the model registry at %s over %s",
                model.name,
                model.version,
                model.trained.artifact_sha256[:12],
                self.url,
                self.client.transport,
            )
        for name in sorted({model.name for model in models}):
            await self._serve_active(name)
        self.synced = True

    async def _serve_active(self, name: str) -> None:
        try:
            active = await self._call(
                f"asking the active version of {name}", lambda: self.client.active_version(name)
            )
        except RegistryRefused as refusal:
            logger.warning(
                "the model registry has no active version of %s (%s); serving %s",
                name,
                refusal.reason,
                self._registry.get(name).version,
            )
            return
        if self._registry.get(name).version == active:
            return  # already served: nothing to switch or to say
        try:
            self._registry.activate(name, active)
        except VersionNotFoundError as error:
            logger.warning(
                "the model registry's active %s is %s, which this replica does not have (it has %s); serving %s",
                name,
                active,
                ", ".join(error.known),
                self._registry.get(name).version,
            )
            return
        logger.info("serving %s %s, the model registry's active version", name, active)

    async def _call(self, what: str, call: Callable[[], Awaitable[Result]]) -> Result:
        """Call until the Worker answers; retries only while it is unreachable. Refusals are raised."""
        backoff = self._initial_backoff
        attempt = 1
        while True:
            try:
                return await call()
            except RegistryUnavailable as unavailable:
                delay = backoff * random.uniform(0.8, 1.2)
                # The first failure is worth a warning; the retries of the same outage are not.
                log = logger.warning if attempt == 1 else logger.debug
                log(
                    "model registry at %s unreachable while %s (attempt %d: %s); retrying in %.2f s",
                    self.url,
                    what,
                    attempt,
                    unavailable.reason,
                    delay,
                )
                await asyncio.sleep(delay)
                backoff = min(backoff * 2, self._max_backoff)
                attempt += 1

"""Registration with the Worker's model registry (`registry.v1.ModelRegistry`, protos/registry/v1/registry.proto):
every loaded model version is registered, then each model serves the version the registry says is active.

It runs as a background task started by the app's lifespan, so neither start-up nor serving waits for the Worker:
until it answers, each model serves its default version. While the Worker is unreachable (`UNAVAILABLE`,
`DEADLINE_EXCEEDED`) a call is retried with exponential back-off and jitter, forever; any other status is final for
that call and logged. Registration is idempotent on the Worker's side, so registering again after a restart is fine.

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

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from app.core.config import grpc_target
from app.ml.model import ServedModel
from app.ml.registry import ModelRegistry, VersionNotFoundError
from app.rpc.stubs import registry_pb2, registry_pb2_grpc

logger = logging.getLogger(__name__)

RETRYABLE = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED})

Response = TypeVar("Response")


def version_message(model: ServedModel) -> registry_pb2.ModelVersion:
    """What the registry records about one loaded version (registered_at and active are the Worker's)."""
    evaluation = model.trained.evaluation
    created_at = Timestamp()
    created_at.FromDatetime(model.trained.trained_at)
    return registry_pb2.ModelVersion(
        name=model.name,
        version=model.version,
        input_kind=model.input_kind,
        labels=model.labels,
        metrics={
            "held_out_accuracy": evaluation.held_out_accuracy,
            "train_size": float(evaluation.train_size),
            "test_size": float(evaluation.test_size),
        },
        artifact_sha256=model.trained.artifact_sha256,
        created_at=created_at,
        description=model.description,
    )


class ModelRegistration:
    INITIAL_BACKOFF_S = 0.5
    MAX_BACKOFF_S = 10.0
    RESYNC_INTERVAL_S = 30.0

    def __init__(
        self,
        registry: ModelRegistry,
        url: str,
        *,
        call_timeout: float,
        initial_backoff: float | None = None,
        max_backoff: float | None = None,
    ) -> None:
        self.url = url
        self._target, self._tls = grpc_target(url)
        self._registry = registry
        self._call_timeout = call_timeout
        self._initial_backoff = self.INITIAL_BACKOFF_S if initial_backoff is None else initial_backoff
        self._max_backoff = self.MAX_BACKOFF_S if max_backoff is None else max_backoff
        self._channel: grpc.aio.Channel | None = None
        self._stub: registry_pb2_grpc.ModelRegistryStub | None = None
        self._task: asyncio.Task[None] | None = None
        self.registered: list[tuple[str, str]] = []  # (name, version) the registry accepted, in order
        self.synced = False  # every version registered and the active ones asked for

    def start(self) -> None:
        """Register in the background; returns at once. Creates the one channel all calls share."""
        # The channel's own reconnect back-off follows ours, so a Worker that comes up is seen at the next retry
        # rather than after gRPC's default of up to two minutes.
        options = [
            ("grpc.initial_reconnect_backoff_ms", max(1, int(self._initial_backoff * 1000))),
            ("grpc.min_reconnect_backoff_ms", max(1, int(self._initial_backoff * 1000))),
            ("grpc.max_reconnect_backoff_ms", max(1, int(self._max_backoff * 1000))),
        ]
        if self._tls:
            self._channel = grpc.aio.secure_channel(self._target, grpc.ssl_channel_credentials(), options=options)
        else:
            self._channel = grpc.aio.insecure_channel(self._target, options=options)
        self._stub = registry_pb2_grpc.ModelRegistryStub(self._channel)
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
        if self._channel is not None:
            await self._channel.close()
            self._channel = None

    async def register(self, models: Sequence[ServedModel]) -> None:
        """Register `models` (call again whenever a model is trained or loaded), then serve the active versions."""
        stub = self._stub
        assert stub is not None, "start() first"
        for model in models:
            request = registry_pb2.RegisterVersionRequest(version=version_message(model))
            what = f"registering {model.name} {model.version}"
            try:
                await self._call(what, stub.RegisterVersion, request)
            except grpc.aio.AioRpcError as error:
                logger.error("%s with the model registry failed: %s %s", what, error.code().name, error.details())
                continue
            self.registered.append((model.name, model.version))
            logger.info(
                "registered %s %s (sha256 %s) with the model registry at %s",
                model.name,
                model.version,
                model.trained.artifact_sha256[:12],
                self.url,
            )
        for name in sorted({model.name for model in models}):
            await self._serve_active(name)
        self.synced = True

    async def _serve_active(self, name: str) -> None:
        assert self._stub is not None
        request = registry_pb2.GetActiveVersionRequest(name=name)
        try:
            active = await self._call(f"asking the active version of {name}", self._stub.GetActiveVersion, request)
        except grpc.aio.AioRpcError as error:
            logger.warning(
                "the model registry has no active version of %s (%s); serving %s",
                name,
                error.code().name,
                self._registry.get(name).version,
            )
            return
        if self._registry.get(name).version == active.version:
            return  # already served: nothing to switch or to say
        try:
            self._registry.activate(name, active.version)
        except VersionNotFoundError as error:
            logger.warning(
                "the model registry's active %s is %s, which this replica does not have (it has %s); serving %s",
                name,
                active.version,
                ", ".join(error.known),
                self._registry.get(name).version,
            )
            return
        logger.info("serving %s %s, the model registry's active version", name, active.version)

    async def _call(
        self, what: str, method: Callable[..., Awaitable[Response]], request: object
    ) -> Response:
        """Call until the Worker answers; retries only while it is unreachable. Other statuses are raised."""
        backoff = self._initial_backoff
        attempt = 1
        while True:
            try:
                return await method(request, timeout=self._call_timeout)
            except grpc.aio.AioRpcError as error:
                if error.code() not in RETRYABLE:
                    raise
                delay = backoff * random.uniform(0.8, 1.2)
                # The first failure is worth a warning; the retries of the same outage are not.
                log = logger.warning if attempt == 1 else logger.debug
                log(
                    "model registry at %s unreachable while %s (attempt %d: %s); retrying in %.2f s",
                    self.url,
                    what,
                    attempt,
                    error.code().name,
                    delay,
                )
                await asyncio.sleep(delay)
                backoff = min(backoff * 2, self._max_backoff)
                attempt += 1

"""The registry over gRPC (`registry.v1.ModelRegistry`, protos/registry/v1/registry.proto), each call carrying this
service's token as `authorization` metadata. UNAVAILABLE and DEADLINE_EXCEEDED mean "try later"; any other status is
the Worker's answer."""

from __future__ import annotations

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from app.core.config import grpc_target
from app.core.service_token import ServiceTokens
from app.ml.model import ServedModel
from app.rpc.stubs import registry_pb2, registry_pb2_grpc
from app.worker.client import RegistryRefused, RegistryUnavailable

RETRYABLE = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED})


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


class GrpcRegistryClient:
    transport = "gRPC"

    def __init__(
        self,
        url: str,
        tokens: ServiceTokens | None,
        *,
        call_timeout: float,
        reconnect_backoff: tuple[float, float] = (0.5, 10.0),
    ) -> None:
        self.url = url
        self._target, self._tls = grpc_target(url)
        self._tokens = tokens
        self._call_timeout = call_timeout
        self._reconnect_backoff = reconnect_backoff
        self._channel: grpc.aio.Channel | None = None
        self._stub: registry_pb2_grpc.ModelRegistryStub | None = None

    def open(self) -> None:
        # The channel's own reconnect back-off follows registration's, so a Worker that comes up is seen at the next
        # retry rather than after gRPC's default of up to two minutes.
        initial, maximum = (max(1, int(seconds * 1000)) for seconds in self._reconnect_backoff)
        options = [
            ("grpc.initial_reconnect_backoff_ms", initial),
            ("grpc.min_reconnect_backoff_ms", initial),
            ("grpc.max_reconnect_backoff_ms", maximum),
        ]
        if self._tls:
            self._channel = grpc.aio.secure_channel(self._target, grpc.ssl_channel_credentials(), options=options)
        else:
            self._channel = grpc.aio.insecure_channel(self._target, options=options)
        self._stub = registry_pb2_grpc.ModelRegistryStub(self._channel)

    async def close(self) -> None:
        if self._channel is not None:
            await self._channel.close()
            self._channel = None

    async def register(self, model: ServedModel) -> None:
        assert self._stub is not None, "open() first"
        await self._call(self._stub.RegisterVersion, registry_pb2.RegisterVersionRequest(version=version_message(model)))

    async def active_version(self, name: str) -> str:
        assert self._stub is not None, "open() first"
        active = await self._call(self._stub.GetActiveVersion, registry_pb2.GetActiveVersionRequest(name=name))
        return str(active.version)

    async def _call(self, method, request):  # type: ignore[no-untyped-def]
        metadata = (("authorization", self._tokens.authorization()),) if self._tokens else None
        try:
            return await method(request, timeout=self._call_timeout, metadata=metadata)
        except grpc.aio.AioRpcError as error:
            if error.code() in RETRYABLE:
                raise RegistryUnavailable(error.code().name) from error
            raise RegistryRefused(error.code().name, error.details() or "") from error

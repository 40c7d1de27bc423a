"""The gRPC server (grpc.aio) that runs next to uvicorn in the same process and event loop, started and stopped
by the app's lifespan: inference.v1.Inference and grpc.health.v1.Health on GRPC_HOST:GRPC_PORT (HTTP/2 cleartext)."""

from __future__ import annotations

import logging

import grpc

from app.core.config import Settings
from app.ml.serving import ModelServing
from app.rpc.health import HealthService
from app.rpc.calls import TolerantHandlers
from app.rpc.inference import SERVICE, InferenceService
from app.rpc.stubs import health_pb2_grpc, inference_pb2_grpc

logger = logging.getLogger(__name__)


class GrpcServer:
    STOP_GRACE_S = 3.0

    def __init__(self, settings: Settings, serving: ModelServing) -> None:
        assert settings.GRPC_PORT is not None, "the gRPC server needs GRPC_PORT"
        self.address = f"{settings.GRPC_HOST}:{settings.GRPC_PORT}"
        self.max_concurrent_rpcs = settings.GRPC_MAX_CONCURRENT_RPCS
        self.options = connection_options(settings)
        self.inference = InferenceService(serving, self.max_concurrent_rpcs)
        self.health = HealthService(serving.registry, (SERVICE,))
        self.port: int | None = None  # the bound port, once started (GRPC_PORT 0 picks one)
        self._server: grpc.aio.Server | None = None

    async def start(self) -> None:
        # Bounded: the inference calls beyond max_concurrent_rpcs are refused at once, UNAVAILABLE `overloaded`, by
        # app/rpc/calls.py (health checks are not counted). grpcio's own bound, twice that, is the backstop for a flood
        # the handlers could not refuse fast enough; it answers RESOURCE_EXHAUSTED.
        server = grpc.aio.server(maximum_concurrent_rpcs=2 * self.max_concurrent_rpcs, options=self.options)
        inference_pb2_grpc.add_InferenceServicer_to_server(self.inference, _TolerantServer(server))
        health_pb2_grpc.add_HealthServicer_to_server(self.health, server)
        port = server.add_insecure_port(self.address)
        if port == 0:
            raise RuntimeError(f"gRPC server could not bind {self.address}")
        await server.start()
        self._server, self.port = server, port
        logger.info("gRPC server listening on %s (port %d)", self.address, port)

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.stop(self.STOP_GRACE_S)
            self._server = None


def connection_options(settings: Settings) -> list[tuple[str, int]]:
    """grpcio's channel arguments for how long a connection lives (GRPC_MAX_CONNECTION_AGE, its grace); none when 0."""
    if settings.GRPC_MAX_CONNECTION_AGE == 0:
        return []
    return [
        ("grpc.max_connection_age_ms", max(1, round(settings.GRPC_MAX_CONNECTION_AGE * 1000))),
        ("grpc.max_connection_age_grace_ms", round(settings.GRPC_MAX_CONNECTION_AGE_GRACE * 1000)),
    ]


class _TolerantServer:
    """Passes the generated `add_*_to_server` handlers on to the server with tolerant deserializers (app/rpc/calls.py)."""

    def __init__(self, server: grpc.aio.Server) -> None:
        self._server = server

    def add_generic_rpc_handlers(self, handlers: tuple[grpc.GenericRpcHandler, ...]) -> None:
        self._server.add_generic_rpc_handlers(tuple(TolerantHandlers(handler) for handler in handlers))

    def add_registered_method_handlers(self, service: str, handlers: dict[str, grpc.RpcMethodHandler]) -> None:
        # grpcio >= 1.62 stubs register their methods here too; the generic handlers above serve them as well.
        pass

"""`grpc.health.v1.Health` (the standard health checking protocol): SERVING for the whole server ("") and for
inference.v1.Inference once the models are loaded, NOT_SERVING before; unknown service names are NOT_FOUND."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc

from app.ml.registry import ModelRegistry
from app.rpc.stubs import health_pb2, health_pb2_grpc

ServingStatus = health_pb2.HealthCheckResponse.ServingStatus


class HealthService(health_pb2_grpc.HealthServicer):
    WATCH_INTERVAL_S = 1.0

    def __init__(self, registry: ModelRegistry, services: tuple[str, ...]) -> None:
        self.registry = registry
        self.services = ("", *services)

    def status(self, service: str) -> int:
        if service not in self.services:
            return health_pb2.HealthCheckResponse.SERVICE_UNKNOWN
        return health_pb2.HealthCheckResponse.SERVING if self.registry.ready else health_pb2.HealthCheckResponse.NOT_SERVING

    async def Check(
        self, request: health_pb2.HealthCheckRequest, context: grpc.aio.ServicerContext
    ) -> health_pb2.HealthCheckResponse:
        status = self.status(request.service)
        if status == health_pb2.HealthCheckResponse.SERVICE_UNKNOWN:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"unknown service {request.service!r}")
        return health_pb2.HealthCheckResponse(status=status)

    async def Watch(
        self, request: health_pb2.HealthCheckRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[health_pb2.HealthCheckResponse]:
        """Sends the status now and again on every change, until the caller goes away."""
        last: int | None = None
        while True:
            status = self.status(request.service)
            if status != last:
                last = status
                yield health_pb2.HealthCheckResponse(status=status)
            await asyncio.sleep(self.WATCH_INTERVAL_S)

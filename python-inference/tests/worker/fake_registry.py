"""A test double of the Worker's model registry (registry.v1.ModelRegistry, hosted by the C# Worker): a grpc.aio
server on a free loopback port, on an event loop of its own in a thread, so it can start late and stop early
while the app under test runs on TestClient's loop."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import grpc
import jwt

from app.rpc.stubs import registry_pb2, registry_pb2_grpc
from tests.messaging.broker import free_port

pb = registry_pb2

# The key the Worker holds for python-inference in these tests.
TOKEN_KEY = "fake-registry-python-inference-key-0123456789"


class FakeModelRegistry(registry_pb2_grpc.ModelRegistryServicer):
    """Keeps what the contract says the Worker keeps: versions by (name, version); the first one is active."""

    def __init__(self) -> None:
        self.requests: list[pb.ModelVersion] = []  # every RegisterVersion call, in order
        self.versions: dict[tuple[str, str], pb.ModelVersion] = {}
        self.active: dict[str, str] = {}
        self.refuse: set[tuple[str, str]] = set()  # answered with FAILED_PRECONDITION (another hash)
        self.hang = False  # never answer RegisterVersion: a Worker that accepts calls and then stalls
        self.abandoned = 0  # hanging calls the caller gave up (cancelled, or closed the channel)
        self.claims: list[dict[str, Any]] = []  # the accepted tokens' claims, one per call
        self.refused_tokens: list[str | None] = []

    async def _authenticate(self, context: grpc.aio.ServicerContext) -> None:
        """As the Worker: an HS256 token of python-inference for the audience worker, or UNAUTHENTICATED."""
        header = dict(context.invocation_metadata() or ()).get("authorization")
        try:
            assert isinstance(header, str) and header.startswith("Bearer ")
            self.claims.append(
                jwt.decode(
                    header.removeprefix("Bearer "),
                    TOKEN_KEY,
                    algorithms=["HS256"],
                    audience="worker",
                    issuer="python-inference",
                    options={"require": ["exp", "iat", "iss", "aud"]},
                )
            )
        except (AssertionError, jwt.InvalidTokenError):
            self.refused_tokens.append(header if isinstance(header, str) else None)
            await context.abort(
                grpc.StatusCode.UNAUTHENTICATED, "The service token was rejected.", (("problem-code", "invalid_token"),)
            )

    async def RegisterVersion(
        self, request: pb.RegisterVersionRequest, context: grpc.aio.ServicerContext
    ) -> pb.ModelVersion:
        await self._authenticate(context)
        version = request.version
        self.requests.append(version)
        if self.hang:
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                self.abandoned += 1
                raise
        key = (version.name, version.version)
        if key in self.refuse:
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, "registered before with another artifact hash")
        self.versions[key] = version
        self.active.setdefault(version.name, version.version)
        return self._answer(version.name, version.version)

    async def GetActiveVersion(
        self, request: pb.GetActiveVersionRequest, context: grpc.aio.ServicerContext
    ) -> pb.ModelVersion:
        await self._authenticate(context)
        if request.name not in self.active:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"no model {request.name!r}")
        return self._answer(request.name, self.active[request.name])

    def _answer(self, name: str, version: str) -> pb.ModelVersion:
        answer = pb.ModelVersion()
        answer.CopyFrom(self.versions.get((name, version), pb.ModelVersion(name=name, version=version)))
        answer.active = self.active.get(name) == version
        return answer


class FakeRegistryServer:
    def __init__(self) -> None:
        self.port = free_port()
        self.servicer = FakeModelRegistry()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fake-model-registry", daemon=True)
        self._thread.start()
        self._server: grpc.aio.Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        async def start() -> grpc.aio.Server:
            server = grpc.aio.server()
            registry_pb2_grpc.add_ModelRegistryServicer_to_server(self.servicer, server)
            assert server.add_insecure_port(f"127.0.0.1:{self.port}") == self.port
            await server.start()
            return server

        self._server = asyncio.run_coroutine_threadsafe(start(), self._loop).result(5)

    def close(self) -> None:
        if self._server is not None:
            asyncio.run_coroutine_threadsafe(self._server.stop(None), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

"""The registry client over HTTP/JSON (app/worker/http_client.py) against a real HTTP server on loopback: the token and
body it sends, its retries with back-off on 502/503/504 and broken connections, its timeouts, its connection pool, and
registration over it end to end in the app."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Iterator

import jwt
import pytest
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.core.service_token import ServiceTokens
from app.main import create_app
from app.ml.model import ServedModel
from app.ml.registry import ModelRegistry
from app.worker.client import RegistryRefused, RegistryUnavailable
from app.worker.http_client import HttpRegistryClient
from app.worker.registration import ModelRegistration
from tests.messaging.broker import free_port
from tests.worker.worker_http import Answer, Seen, WorkerHttpServer

KEY = "http-client-tests-python-inference-key-0123"


def version_answer(seen: Seen) -> Answer:
    body = seen.body or {}
    return Answer(201, {"name": body.get("name"), "version": body.get("version"), "active": True})


@pytest.fixture
def servers() -> Iterator[list[WorkerHttpServer]]:
    started: list[WorkerHttpServer] = []
    yield started
    for server in started:
        server.close()


def serve(servers: list[WorkerHttpServer], answer) -> WorkerHttpServer:  # type: ignore[no-untyped-def]
    server = WorkerHttpServer(answer)
    servers.append(server)
    return server


async def with_client(url: str, call, **options):  # type: ignore[no-untyped-def]
    """Run `call(client)` with a client opened in this event loop, as registration opens it, and close it after."""
    settings = {"call_timeout": 2.0, "attempts": 3, "initial_backoff": 0.05, "max_backoff": 0.4, **options}
    client = HttpRegistryClient(url, ServiceTokens(KEY), **settings)
    client.open()
    try:
        return await call(client)
    finally:
        await client.close()


def a_model(registry: ModelRegistry) -> ServedModel:
    return registry.get("iris")


def test_a_registration_sends_the_version_and_a_token_of_python_inference(
    servers: list[WorkerHttpServer], registry: ModelRegistry
) -> None:
    server = serve(servers, version_answer)
    model = a_model(registry)

    asyncio.run(with_client(server.url, lambda client: client.register(model)))

    seen = server.seen[0]
    assert (seen.method, seen.path) == ("POST", "/v1/registry/versions")
    assert seen.body["name"] == "iris" and seen.body["version"] == model.version
    assert seen.body["artifactSha256"] == model.trained.artifact_sha256
    assert seen.body["inputKind"] == model.input_kind and seen.body["labels"] == list(model.labels)
    scheme, token = seen.headers["authorization"].split(" ", 1)
    claims = jwt.decode(token, KEY, algorithms=["HS256"], audience="worker", issuer="python-inference")
    assert scheme == "Bearer"
    assert claims["scope"] == "registry.register registry.read"
    assert 0 < claims["exp"] - claims["iat"] <= 300


def test_503_and_a_dropped_connection_are_retried_with_growing_back_off_until_the_worker_answers(
    servers: list[WorkerHttpServer], registry: ModelRegistry
) -> None:
    script = [Answer(503, {"code": "broker_unavailable"}), Answer(drop=True), None]
    server = serve(servers, lambda seen: script[len(server.seen) - 1] or version_answer(seen))

    asyncio.run(with_client(server.url, lambda client: client.register(a_model(registry)), initial_backoff=0.1))

    assert len(server.seen) == 3
    first_gap = server.seen[1].at - server.seen[0].at
    second_gap = server.seen[2].at - server.seen[1].at
    assert 0.08 <= first_gap < second_gap  # 0.1 s ± 20 %, then about twice that


def test_a_worker_that_stays_away_is_unavailable_after_the_configured_attempts(
    servers: list[WorkerHttpServer], registry: ModelRegistry
) -> None:
    server = serve(servers, lambda seen: Answer(502))

    with pytest.raises(RegistryUnavailable) as unavailable:
        asyncio.run(with_client(server.url, lambda client: client.register(a_model(registry)), attempts=4))

    assert unavailable.value.reason == "HTTP 502"
    assert len(server.seen) == 4


def test_a_port_nobody_listens_on_is_unavailable_not_an_error(registry: ModelRegistry) -> None:
    with pytest.raises(RegistryUnavailable) as unavailable:
        asyncio.run(with_client(f"http://127.0.0.1:{free_port()}", lambda client: client.register(a_model(registry))))

    assert unavailable.value.reason == "ConnectError"


def test_each_attempt_is_cut_off_at_the_call_timeout(servers: list[WorkerHttpServer], registry: ModelRegistry) -> None:
    server = serve(servers, lambda seen: Answer(201, {}, delay=5.0))
    started = time.monotonic()

    with pytest.raises(RegistryUnavailable) as unavailable:
        asyncio.run(
            with_client(server.url, lambda client: client.register(a_model(registry)), call_timeout=0.3, attempts=2)
        )

    elapsed = time.monotonic() - started
    assert unavailable.value.reason == "ReadTimeout"
    assert len(server.seen) == 2
    assert elapsed < 3.0  # two attempts of 0.3 s and a back-off, not the server's 5 s


def test_a_refusal_is_final_and_carries_the_problem_code(servers: list[WorkerHttpServer], registry: ModelRegistry) -> None:
    server = serve(servers, lambda seen: Answer(403, {"code": "insufficient_scope", "detail": "needs registry.register"}))

    with pytest.raises(RegistryRefused) as refused:
        asyncio.run(with_client(server.url, lambda client: client.register(a_model(registry))))

    assert refused.value.reason == "HTTP 403 insufficient_scope"
    assert refused.value.detail == "needs registry.register"
    assert len(server.seen) == 1


def test_calls_share_a_pooled_keep_alive_connection(servers: list[WorkerHttpServer]) -> None:
    server = serve(servers, lambda seen: Answer(200, {"version": "1.0.0"}))

    async def ask_three_times(client: HttpRegistryClient) -> list[str]:
        return [await client.active_version(name) for name in ("iris", "sentiment", "a model/with a slash")]

    versions = asyncio.run(with_client(server.url, ask_three_times))

    assert versions == ["1.0.0"] * 3
    assert [seen.path for seen in server.seen][-1] == "/v1/registry/models/a%20model%2Fwith%20a%20slash/active"
    assert len({seen.client_port for seen in server.seen}) == 1


def test_registration_over_http_registers_every_version_and_serves_the_active_one(
    servers: list[WorkerHttpServer], settings: Settings, registry: ModelRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ModelRegistration, "INITIAL_BACKOFF_S", 0.05)

    def worker(seen: Seen) -> Answer:
        if seen.method == "GET":
            return Answer(200, {"version": "2.0.0" if "sentiment" in seen.path else "1.0.0"})
        return version_answer(seen)

    server = serve(servers, worker)
    configured = dataclasses.replace(
        settings, REGISTRY_TRANSPORT="http", WORKER_URL=server.url, WORKER_GRPC_URL=None, WORKER_TOKEN_KEY=KEY
    )
    app = create_app(configured, ModelRegistry(registry.all_versions()))

    with TestClient(app) as client:
        deadline = time.monotonic() + 10
        while not app.state.registration.synced:
            assert time.monotonic() < deadline, "registration over HTTP did not finish"
            time.sleep(0.02)
        served = client.post("/v1/predict", json={"model": "sentiment", "inputs": ["lovely"]}).json()["version"]

    assert app.state.registration.registered == [("iris", "1.0.0"), ("sentiment", "1.0.0"), ("sentiment", "2.0.0")]
    assert served == "2.0.0"
    assert all(seen.headers["authorization"].startswith("Bearer ") for seen in server.seen)

from __future__ import annotations

import grpc
import pytest

from app.ml.registry import ModelRegistry
from app.rpc.stubs import health_pb2
from tests.rpc.conftest import RpcStack

Response = health_pb2.HealthCheckResponse


@pytest.mark.parametrize("service", ["", "inference.v1.Inference"])
def test_health_is_serving_once_models_are_loaded(stack: RpcStack, service: str) -> None:
    response = stack.health.Check(health_pb2.HealthCheckRequest(service=service))

    assert response.status == Response.SERVING


def test_health_is_not_serving_without_models(stack: RpcStack, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stack.http.app.state.grpc_server.health, "registry", ModelRegistry())  # type: ignore[attr-defined]

    assert stack.health.Check(health_pb2.HealthCheckRequest()).status == Response.NOT_SERVING


def test_health_of_an_unknown_service_is_not_found(stack: RpcStack) -> None:
    with pytest.raises(grpc.RpcError) as raised:
        stack.health.Check(health_pb2.HealthCheckRequest(service="nope.v1.Nope"))

    assert raised.value.code() is grpc.StatusCode.NOT_FOUND  # type: ignore[attr-defined]


def test_health_watch_sends_the_current_status_first(stack: RpcStack) -> None:
    stream = stack.health.Watch(health_pb2.HealthCheckRequest(service="inference.v1.Inference"))
    try:
        assert next(stream).status == Response.SERVING
    finally:
        stream.cancel()

"""The service stays responsive while a model works: the model runs on its own threads (app/ml/executor.py), not on
the event loop that serves health probes, gRPC and HTTP; and HTTP work in progress is bounded (app/api/concurrency.py)."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

import grpc
import pytest
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.main import create_app
from app.ml.model import Prediction, ServedModel
from app.ml.registry import ModelRegistry
from app.rpc.stubs import health_pb2, health_pb2_grpc, inference_pb2, inference_pb2_grpc
from tests.support import SETOSA, assert_problem

BUSY_S = 2.0


@dataclasses.dataclass(frozen=True)
class BusyModel(ServedModel):
    """The iris model, holding its thread for BUSY_S per call, as a large batch on a loaded machine would."""

    started: threading.Event = dataclasses.field(default_factory=threading.Event, compare=False)

    def predict(self, inputs: Sequence[Any]) -> list[Prediction]:
        self.started.set()
        time.sleep(BUSY_S)
        return super().predict(inputs)


@pytest.fixture
def busy(registry: ModelRegistry) -> BusyModel:
    iris = registry.get("iris")
    return BusyModel(**{field.name: getattr(iris, field.name) for field in dataclasses.fields(iris)})


def busy_app(settings: Settings, registry: ModelRegistry, busy: BusyModel, **changes: Any) -> Any:
    others = [model for model in registry.all_versions() if model.name != "iris"]
    return create_app(dataclasses.replace(settings, **changes), ModelRegistry([busy, *others]))


def predict_in_background(http: TestClient) -> tuple[threading.Thread, list[int]]:
    statuses: list[int] = []
    thread = threading.Thread(
        target=lambda: statuses.append(http.post("/v1/predict", json={"model": "iris", "inputs": [SETOSA]}).status_code)
    )
    thread.start()
    return thread, statuses


def test_health_http_and_grpc_answer_at_once_while_the_model_is_busy(
    settings: Settings, registry: ModelRegistry, busy: BusyModel
) -> None:
    app = busy_app(settings, registry, busy, GRPC_PORT=0)
    with TestClient(app) as http, grpc.insecure_channel(f"127.0.0.1:{app.state.grpc_server.port}") as channel:
        prediction, statuses = predict_in_background(http)
        assert busy.started.wait(10)

        started = time.perf_counter()
        health = http.get("/health")
        grpc_health = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service="inference.v1.Inference"), timeout=BUSY_S / 2
        )
        other_model = http.post("/v1/predict", json={"model": "sentiment", "inputs": ["lovely"]})
        elapsed = time.perf_counter() - started

        assert (health.status_code, grpc_health.status) == (200, health_pb2.HealthCheckResponse.SERVING)
        assert other_model.status_code == 200
        assert elapsed < BUSY_S / 2, f"answered in {elapsed:.2f} s while the model was busy"
        prediction.join(10)
        assert statuses == [200]


def test_http_requests_beyond_the_bound_are_503_overloaded_with_retry_after_and_probes_still_answer(
    settings: Settings, registry: ModelRegistry, busy: BusyModel
) -> None:
    app = busy_app(settings, registry, busy, HTTP_MAX_CONCURRENT_REQUESTS=1)
    with TestClient(app) as http:
        prediction, statuses = predict_in_background(http)
        assert busy.started.wait(10)

        refused = http.get("/predict", params={"text": "lovely"})
        health = http.get("/health")

        assert_problem(refused, 503, "overloaded", "/predict")
        assert refused.headers["retry-after"] == "1"
        # The member too: the gateway passes the problem on and writes its Retry-After from it.
        assert refused.json()["retryAfter"] == 1
        assert health.status_code == 200
        prediction.join(10)
        assert statuses == [200]


def test_the_grpc_server_is_bounded(settings: Settings, registry: ModelRegistry) -> None:
    app = create_app(dataclasses.replace(settings, GRPC_PORT=0, GRPC_MAX_CONCURRENT_RPCS=7), registry)

    assert app.state.grpc_server.max_concurrent_rpcs == 7


def test_grpc_calls_beyond_the_bound_are_unavailable_overloaded_with_retry_after_and_health_still_answers(
    settings: Settings, registry: ModelRegistry, busy: BusyModel
) -> None:
    # The gateway maps this to the same 503 `overloaded` with Retry-After that HTTP answers (the test above).
    app = busy_app(settings, registry, busy, GRPC_PORT=0, GRPC_MAX_CONCURRENT_RPCS=1)
    with TestClient(app), grpc.insecure_channel(f"127.0.0.1:{app.state.grpc_server.port}") as channel:
        inference = inference_pb2_grpc.InferenceStub(channel)
        flower = inference_pb2.ModelInput(features=inference_pb2.Features(values=SETOSA))
        held = inference.PredictBatch.future(inference_pb2.PredictBatchRequest(model="iris", inputs=[flower]), timeout=10)
        assert busy.started.wait(10)

        with pytest.raises(grpc.RpcError) as refused:
            inference.Predict(inference_pb2.PredictRequest(model="sentiment", input=inference_pb2.ModelInput(text="lovely")),
                              timeout=BUSY_S / 2)
        health = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service="inference.v1.Inference"), timeout=BUSY_S / 2
        )

        trailers = dict(refused.value.trailing_metadata())  # type: ignore[attr-defined]
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE  # type: ignore[attr-defined]
        assert (trailers["problem-code"], trailers["retry-after"]) == ("overloaded", "1")
        assert health.status == health_pb2.HealthCheckResponse.SERVING
        assert len(held.result().predictions) == 1
        # The refused call took nothing: once the held one is done, the next goes through.
        assert inference.Predict(
            inference_pb2.PredictRequest(model="sentiment", input=inference_pb2.ModelInput(text="lovely")), timeout=10
        ).prediction.label

from __future__ import annotations

import math
from typing import Any

import grpc
import pytest
from google.protobuf import json_format, struct_pb2

from app.core.telemetry import SPAN_KIND_SERVER, instruments
from app.rpc.stubs import error_details_pb2, health_pb2, inference_pb2, status_pb2
from tests.rpc.conftest import RpcStack
from tests.support import INCOMING_TRACE_ID, INCOMING_TRACEPARENT, SETOSA, VERSICOLOR, VIRGINICA

pb = inference_pb2
TEXTS = [
    "I absolutely loved this movie, the acting was wonderful.",
    "This is the worst purchase I have ever made.",
    "Not bad at all",
]
FLOWERS = [SETOSA, VIRGINICA, VERSICOLOR]


def _input(value: Any) -> pb.ModelInput:
    return pb.ModelInput(text=value) if isinstance(value, str) else pb.ModelInput(features=pb.Features(values=value))


def _http_predictions(stack: RpcStack, model: str, inputs: list[Any]) -> list[tuple[str, float]]:
    response = stack.http.post("/v1/predict", json={"model": model, "inputs": inputs})
    assert response.status_code == 200, response.text
    return [(p["label"], p["score"]) for p in response.json()["predictions"]]


@pytest.mark.parametrize(("model", "inputs"), [("sentiment", TEXTS), ("iris", FLOWERS)])
def test_predict_batch_gives_the_http_routes_labels_and_scores(stack: RpcStack, model: str, inputs: list[Any]) -> None:
    response = stack.inference.PredictBatch(pb.PredictBatchRequest(model=model, inputs=[_input(v) for v in inputs]))

    assert (response.model, response.version) == (model, "1.0.0")
    assert [(p.label, p.score) for p in response.predictions] == _http_predictions(stack, model, inputs)


@pytest.mark.parametrize(("model", "value"), [("sentiment", TEXTS[0]), ("iris", FLOWERS[1])])
def test_predict_gives_the_http_routes_label_and_score(stack: RpcStack, model: str, value: Any) -> None:
    response = stack.inference.Predict(pb.PredictRequest(model=model, input=_input(value)))

    assert (response.model, response.version) == (model, "1.0.0")
    assert [(response.prediction.label, response.prediction.score)] == _http_predictions(stack, model, [value])


def test_predict_stream_answers_a_batch_larger_than_max_batch_size_in_chunks(stack: RpcStack) -> None:
    texts = [TEXTS[i % 3] for i in range(250)]  # MAX_BATCH_SIZE is 100

    chunks = list(stack.inference.PredictStream(pb.PredictBatchRequest(model="sentiment", inputs=map(_input, texts))))

    assert [(c.offset, len(c.predictions)) for c in chunks] == [(0, 100), (100, 100), (200, 50)]
    streamed = [(p.label, p.score) for c in chunks for p in c.predictions]
    assert streamed == _http_predictions(stack, "sentiment", TEXTS) * 83 + _http_predictions(stack, "sentiment", TEXTS[:1])


def test_list_models_gives_the_http_catalogue(stack: RpcStack) -> None:
    response = stack.inference.ListModels(pb.ListModelsRequest())

    # The served version of each; the HTTP catalogue's `versions` list has no field in inference.v1.ModelInfo.
    http = [{k: v for k, v in m.items() if k != "versions"} for m in stack.http.get("/v1/models").json()["models"]]
    assert [
        {
            "name": m.name,
            "version": m.version,
            "input_kind": m.input_kind,
            "feature_count": m.feature_count or None,
            "labels": list(m.labels),
            "held_out_accuracy": m.held_out_accuracy,
            "train_size": m.train_size,
            "test_size": m.test_size,
            "artifact_sha256": m.artifact_sha256,
            "description": m.description,
        }
        for m in response.models
    ] == http
    assert {m.name: m.feature_count for m in response.models} == {"iris": 4, "sentiment": 0}  # 0: a text model


def test_predictions_over_grpc_are_counted_like_http_ones(stack: RpcStack) -> None:
    counter = stack.http.app.state.prediction_counter  # type: ignore[attr-defined]
    before = counter.pending

    stack.inference.PredictBatch(pb.PredictBatchRequest(model="iris", inputs=[_input(v) for v in FLOWERS]))
    stack.inference.Predict(pb.PredictRequest(model="sentiment", input=_input("great")))

    assert counter.pending == before + 4


def _error(call: Any) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as raised:
        call()
    return raised.value


def _trailers(error: grpc.RpcError) -> dict[str, Any]:
    return dict(error.trailing_metadata())  # type: ignore[attr-defined]


def _field_violations(error: grpc.RpcError) -> list[tuple[str, str]]:
    status = status_pb2.Status.FromString(_trailers(error)["grpc-status-details-bin"])
    assert status.code == error.code().value[0]  # type: ignore[attr-defined]
    assert status.message == error.details()  # type: ignore[attr-defined]
    violations: list[tuple[str, str]] = []
    for detail in status.details:
        assert detail.type_url == "type.googleapis.com/google.rpc.BadRequest"
        bad_request = error_details_pb2.BadRequest()
        assert detail.Unpack(bad_request)
        violations += [(v.field, v.description) for v in bad_request.field_violations]
    return violations


def test_invalid_inputs_are_invalid_argument_with_the_http_field_errors(stack: RpcStack) -> None:
    inputs = [_input("fine"), _input([1.0, 2.0]), pb.ModelInput(), _input(" ")]

    error = _error(lambda: stack.inference.PredictBatch(pb.PredictBatchRequest(model="sentiment", inputs=inputs)))

    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT  # type: ignore[attr-defined]
    assert _trailers(error)["problem-code"] == "validation_failed"
    http = stack.http.post("/v1/predict", json={"model": "sentiment", "inputs": ["fine", [1.0, 2.0], None, " "]})
    assert error.details() == http.json()["detail"]  # type: ignore[attr-defined]
    assert _field_violations(error) == [(f, m) for f, messages in http.json()["errors"].items() for m in messages]


def test_inputs_of_no_input_kind_are_rejected_in_the_http_routes_words(stack: RpcStack) -> None:
    others = [42, [1, "a", 3, 4], None, {"text": "hi"}, True]
    inputs = [pb.ModelInput(other=json_format.ParseDict(value, struct_pb2.Value())) for value in others]

    error = _error(lambda: stack.inference.PredictBatch(pb.PredictBatchRequest(model="iris", inputs=inputs)))

    http = stack.http.post("/v1/predict", json={"model": "iris", "inputs": others})
    assert _field_violations(error) == [(f, m) for f, messages in http.json()["errors"].items() for m in messages]
    assert len(_field_violations(error)) == 5


def test_predict_without_an_input_is_invalid_argument_input_is_required(stack: RpcStack) -> None:
    error = _error(lambda: stack.inference.Predict(pb.PredictRequest(model="sentiment")))

    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT  # type: ignore[attr-defined]
    assert _trailers(error)["problem-code"] == "validation_failed"
    assert _field_violations(error) == [("input", "is required")]


def test_an_unknown_model_is_not_found_before_a_missing_input_is_noticed(stack: RpcStack) -> None:
    error = _error(lambda: stack.inference.Predict(pb.PredictRequest(model="unicorn")))

    assert error.code() is grpc.StatusCode.NOT_FOUND  # type: ignore[attr-defined]
    assert _trailers(error)["problem-code"] == "model_not_found"


def test_features_that_are_not_finite_are_invalid_argument(stack: RpcStack) -> None:
    request = pb.PredictRequest(model="iris", input=_input([math.nan, 1.0, 1.0, 1.0]))

    error = _error(lambda: stack.inference.Predict(request))

    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT  # type: ignore[attr-defined]
    assert _field_violations(error) == [("input", "item 0 must be a finite number")]


def test_a_batch_over_max_batch_size_is_invalid_argument_batch_too_large(stack: RpcStack) -> None:
    request = pb.PredictBatchRequest(model="sentiment", inputs=[_input("fine")] * 101)

    error = _error(lambda: stack.inference.PredictBatch(request))

    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT  # type: ignore[attr-defined]
    assert _trailers(error)["problem-code"] == "batch_too_large"
    assert _field_violations(error) == []


def test_a_stream_checks_every_input_before_answering(stack: RpcStack) -> None:
    inputs = [_input("fine")] * 150 + [_input("")]

    error = _error(lambda: list(stack.inference.PredictStream(pb.PredictBatchRequest(model="sentiment", inputs=inputs))))

    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT  # type: ignore[attr-defined]
    assert _field_violations(error) == [("inputs[150]", "must not be empty or whitespace only")]


def test_an_unknown_model_is_not_found_model_not_found(stack: RpcStack) -> None:
    error = _error(lambda: stack.inference.Predict(pb.PredictRequest(model="unicorn", input=_input("hi"))))

    assert error.code() is grpc.StatusCode.NOT_FOUND  # type: ignore[attr-defined]
    assert _trailers(error)["problem-code"] == "model_not_found"
    assert "unicorn" in error.details()  # type: ignore[attr-defined]


def test_not_ready_is_unavailable(stack: RpcStack, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stack.http.app.state.serving, "registry", type(stack.http.app.state.registry)())  # type: ignore[attr-defined]

    error = _error(lambda: stack.inference.ListModels(pb.ListModelsRequest()))

    assert error.code() is grpc.StatusCode.UNAVAILABLE  # type: ignore[attr-defined]
    assert _trailers(error)["problem-code"] == "not_ready"


def test_an_unexpected_error_is_internal_without_internals(stack: RpcStack, monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(*args: Any) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr("app.ml.serving.check_inputs", explode)

    error = _error(lambda: stack.inference.Predict(pb.PredictRequest(model="sentiment", input=_input("hi"))))

    assert error.code() is grpc.StatusCode.INTERNAL  # type: ignore[attr-defined]
    assert _trailers(error)["problem-code"] == "internal_error"
    assert "secret" not in error.details()  # type: ignore[attr-defined]
    assert "RuntimeError" not in error.details()  # type: ignore[attr-defined]


def test_a_call_continues_the_callers_trace(stack: RpcStack) -> None:
    request = pb.PredictRequest(model="sentiment", input=_input("great"))
    stack.inference.Predict(request, metadata=[("traceparent", INCOMING_TRACEPARENT)])
    error = _error(
        lambda: stack.inference.Predict(
            pb.PredictRequest(model="unicorn", input=_input("x")), metadata=[("traceparent", INCOMING_TRACEPARENT)]
        )
    )

    servers = [s for s in stack.exporter.spans if s.name == "inference.v1.Inference/Predict"]
    assert len(servers) == 2
    assert all(s.trace_id == INCOMING_TRACE_ID and s.parent_span_id == "00f067aa0ba902b7" for s in servers)
    assert [s.attributes["rpc.grpc.status_code"] for s in servers] == [0, grpc.StatusCode.NOT_FOUND.value[0]]
    (model_span,) = [s for s in stack.exporter.spans if s.name == "predict sentiment"]
    assert model_span.parent_span_id == servers[0].span_id
    assert _trailers(error)["x-trace-id"] == INCOMING_TRACE_ID


def test_switching_the_served_version_changes_the_version_of_every_answer(stack: RpcStack) -> None:
    batch = pb.PredictBatchRequest(model="sentiment", inputs=[_input(t) for t in TEXTS])
    before = stack.inference.PredictBatch(batch)

    stack.registry.activate("sentiment", "2.0.0")

    after = stack.inference.PredictBatch(batch)
    single = stack.inference.Predict(pb.PredictRequest(model="sentiment", input=_input(TEXTS[0])))
    [chunk] = list(stack.inference.PredictStream(batch))
    listed = {m.name: m.version for m in stack.inference.ListModels(pb.ListModelsRequest()).models}
    assert before.version == "1.0.0"
    assert (after.version, single.version, chunk.version) == ("2.0.0", "2.0.0", "2.0.0")
    assert listed == {"sentiment": "2.0.0", "iris": "1.0.0"}
    # The scores are 2.0.0's, not 1.0.0's under a new name.
    assert [(p.label, p.score) for p in after.predictions] == _http_predictions(stack, "sentiment", TEXTS)
    assert [p.score for p in after.predictions] != [p.score for p in before.predictions]


def test_health_checks_leave_no_span_while_inference_calls_do(stack: RpcStack) -> None:
    for _ in range(3):
        stack.health.Check(health_pb2.HealthCheckRequest(service="inference.v1.Inference"))
    stack.inference.Predict(pb.PredictRequest(model="sentiment", input=_input("great")))

    servers = [span.name for span in stack.exporter.spans if span.kind == SPAN_KIND_SERVER]
    assert servers == ["inference.v1.Inference/Predict"]


def test_calls_are_measured_in_milliseconds_per_method_and_status(stack: RpcStack) -> None:
    duration = instruments.RPC_SERVER_DURATION
    call = {"rpc.system": "grpc", "rpc.service": "inference.v1.Inference", "rpc.method": "Predict"}
    ok, not_found = {**call, "rpc.grpc.status_code": 0}, {**call, "rpc.grpc.status_code": 5}
    before_ok, before_not_found = duration.count(ok), duration.count(not_found)

    stack.inference.Predict(pb.PredictRequest(model="sentiment", input=_input("great")))
    _error(lambda: stack.inference.Predict(pb.PredictRequest(model="unicorn", input=_input("great"))))

    assert (duration.count(ok), duration.count(not_found)) == (before_ok + 1, before_not_found + 1)
    assert duration.unit == "ms"

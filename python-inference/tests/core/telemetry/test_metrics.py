"""Metrics: aggregation, their OTLP JSON shape, the service's instruments as requests record them, and the
periodic export into a real collector."""

from __future__ import annotations

import re
import time
from dataclasses import replace

import pytest
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.core.telemetry import Meter, encode_metrics, instruments
from app.main import create_app
from app.ml.registry import ModelRegistry
from tests.core.telemetry.collector import OtlpCollector, attributes_of
from tests.support import SETOSA, VIRGINICA

NANOS = re.compile(r"^\d{19}$")


def test_a_histogram_is_encoded_with_explicit_bounds_and_cumulative_bucket_counts() -> None:
    meter = Meter(name="test-scope", version="1.0")
    histogram = meter.histogram("work.duration", unit="s", description="How long work took.", bounds=[1, 2, 5])
    for value in (0.5, 1, 1.5, 7):  # a value equal to a bound counts in that bound's bucket
        histogram.record(value, {"work.kind": "a", "http.response.status_code": 200})
    histogram.record(3, {"work.kind": "b"})

    body = encode_metrics(meter, {"service.name": "svc"}, now_ns=1_796_000_000_000_000_000)

    [resource_metrics] = body["resourceMetrics"]
    assert attributes_of(resource_metrics["resource"]) == {"service.name": "svc"}
    [scope_metrics] = resource_metrics["scopeMetrics"]
    assert scope_metrics["scope"] == {"name": "test-scope", "version": "1.0"}
    [metric] = scope_metrics["metrics"]
    assert (metric["name"], metric["unit"], metric["description"]) == ("work.duration", "s", "How long work took.")
    assert metric["histogram"]["aggregationTemporality"] == 2  # cumulative
    points = {attributes_of(p)["work.kind"]: p for p in metric["histogram"]["dataPoints"]}
    first = points["a"]
    assert first["bucketCounts"] == ["2", "1", "0", "1"]  # uint64 as strings: (..1], (1..2], (2..5], (5..)
    assert first["explicitBounds"] == [1, 2, 5]
    assert (first["count"], first["sum"], first["min"], first["max"]) == ("4", 10.0, 0.5, 7)
    assert {a["key"]: a["value"] for a in first["attributes"]}["http.response.status_code"] == {"intValue": "200"}
    assert NANOS.match(first["startTimeUnixNano"]) and first["timeUnixNano"] == "1796000000000000000"
    assert points["b"]["bucketCounts"] == ["0", "0", "1", "0"]


def test_a_counter_is_a_cumulative_monotonic_sum_per_attribute_set() -> None:
    meter = Meter()
    counter = meter.counter("things.sent", unit="{thing}", description="Things sent.")
    counter.add(2, {"b": "1", "a": "x"})
    counter.add(3, {"a": "x", "b": "1"})  # the same series, whatever the order of the attributes
    counter.add(1, {"a": "y"})

    [metric] = encode_metrics(meter, {})["resourceMetrics"][0]["scopeMetrics"][0]["metrics"]

    assert metric["sum"]["isMonotonic"] is True
    assert metric["sum"]["aggregationTemporality"] == 2
    values = {attributes_of(p)["a"]: p["asInt"] for p in metric["sum"]["dataPoints"]}
    assert values == {"x": "5", "y": "1"}
    with pytest.raises(ValueError):
        counter.add(-1)


def test_instruments_nothing_was_recorded_on_are_left_out() -> None:
    meter = Meter()
    meter.counter("unused", unit="1", description="")

    assert encode_metrics(meter, {})["resourceMetrics"][0]["scopeMetrics"][0]["metrics"] == []


def test_http_requests_are_measured_per_route_method_and_status(client: TestClient) -> None:
    duration = instruments.HTTP_SERVER_REQUEST_DURATION
    ok = {"http.request.method": "POST", "http.route": "/v1/predict", "http.response.status_code": 200,
          "url.scheme": "http"}
    bad = {**ok, "http.response.status_code": 400}
    before_ok, before_bad = duration.count(ok), duration.count(bad)

    client.post("/v1/predict", json={"model": "iris", "inputs": [SETOSA]})
    client.post("/v1/predict", json={"model": "iris", "inputs": [SETOSA, VIRGINICA]})
    client.post("/v1/predict", json={"model": "iris", "inputs": []})

    assert duration.count(ok) == before_ok + 2
    assert duration.count(bad) == before_bad + 1


def test_model_calls_are_measured_per_model_and_version(client: TestClient) -> None:
    iris = {"model.name": "iris", "model.version": "1.0.0"}
    calls_before = instruments.MODEL_DURATION.count(iris)
    sizes_before = instruments.MODEL_BATCH_SIZE.snapshot()

    client.post("/v1/predict", json={"model": "iris", "inputs": [SETOSA, VIRGINICA, SETOSA]})

    assert instruments.MODEL_DURATION.count(iris) == calls_before + 1
    after = instruments.MODEL_BATCH_SIZE.snapshot()
    key = tuple(sorted(iris.items()))
    old = sizes_before.get(key)
    assert after[key].count == (old.count if old else 0) + 1
    assert after[key].sum == (old.sum if old else 0) + 3


def test_metrics_are_exported_periodically_with_their_units_and_attributes(
    collector: OtlpCollector, settings: Settings, registry: ModelRegistry
) -> None:
    app = create_app(
        replace(settings, OTEL_EXPORTER_OTLP_ENDPOINT=collector.endpoint, OTEL_METRIC_EXPORT_INTERVAL=100), registry
    )
    try:
        TestClient(app).post("/v1/predict", json={"model": "sentiment", "inputs": ["lovely"]})
        deadline = time.monotonic() + 10
        while not (exported := any(m["name"] == "inference.model.duration" for m in collector.metrics())):
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)
    finally:
        app.state.telemetry.shutdown()

    assert exported, "no periodic export within 10 s"
    assert collector.requests[0]["headers"]["Content-Type"] == "application/json"
    metrics = {m["name"]: m for m in collector.metrics()}  # the latest export of each
    http = metrics["http.server.request.duration"]
    assert http["unit"] == "s"
    routes = [attributes_of(p) for p in http["histogram"]["dataPoints"]]
    assert {"http.request.method": "POST", "http.route": "/v1/predict", "http.response.status_code": 200,
            "url.scheme": "http"} in routes
    model = metrics["inference.model.duration"]
    assert model["unit"] == "s"
    assert {"model.name": "sentiment", "model.version": "1.0.0"} in [
        attributes_of(p) for p in model["histogram"]["dataPoints"]
    ]
    assert metrics["inference.model.batch_size"]["unit"] == "{input}"

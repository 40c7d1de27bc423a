from __future__ import annotations

import random
from dataclasses import replace

import pytest
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.core.telemetry import create_tracer
from app.core.telemetry.sampling import Sampler, sampler_from
from app.main import create_app
from app.ml.registry import ModelRegistry
from tests.support import INCOMING_TRACE_ID, INCOMING_TRACEPARENT, RecordingExporter

UNSAMPLED_TRACEPARENT = INCOMING_TRACEPARENT[:-2] + "00"
PREDICTION = {"model": "sentiment", "inputs": ["lovely"]}


def sampled_client(settings: Settings, registry: ModelRegistry, exporter: RecordingExporter, sampler: str,
                   argument: str | None = None) -> TestClient:
    app = create_app(replace(settings, OTEL_TRACES_SAMPLER=sampler, OTEL_TRACES_SAMPLER_ARG=argument), registry)
    app.state.tracer.exporter = exporter
    return TestClient(app)


@pytest.mark.parametrize(
    ("name", "argument", "expected"),
    [
        (None, None, Sampler(1.0, parent_based=True)),
        ("parentbased_always_on", None, Sampler(1.0, parent_based=True)),
        ("parentbased_always_off", None, Sampler(0.0, parent_based=True)),
        ("parentbased_traceidratio", "0.1", Sampler(0.1, parent_based=True)),
        ("PARENTBASED_TRACEIDRATIO", "0.25", Sampler(0.25, parent_based=True)),
        ("traceidratio", "0.5", Sampler(0.5, parent_based=False)),
        ("always_on", None, Sampler(1.0, parent_based=False)),
        ("always_off", None, Sampler(0.0, parent_based=False)),
        # As the SDKs: a ratio that is missing or not from 0 to 1 samples everything, an unknown sampler is the default.
        ("parentbased_traceidratio", None, Sampler(1.0, parent_based=True)),
        ("parentbased_traceidratio", "ten percent", Sampler(1.0, parent_based=True)),
        ("parentbased_traceidratio", "1.5", Sampler(1.0, parent_based=True)),
        ("jaeger_remote", None, Sampler(1.0, parent_based=True)),
    ],
)
def test_sampler_is_read_as_the_opentelemetry_sdks_read_it(name: str | None, argument: str | None,
                                                           expected: Sampler) -> None:
    assert sampler_from(name, argument) == expected


def test_settings_read_the_sampler_from_the_environment() -> None:
    settings = Settings.from_env({"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.1"})

    assert create_tracer(settings).sampler == Sampler(0.1, parent_based=True)
    assert create_tracer(Settings.from_env({})).sampler == Sampler(1.0, parent_based=True)


@pytest.mark.parametrize(
    ("trace_id", "kept"),
    [
        # The first 8 bytes as a signed integer, compared by magnitude with ratio × 2^63, as .NET's sampler does.
        ("00000000000000010000000000000000", True),
        ("3fffffffffffffff0000000000000000", True),
        ("4000000000000000ffffffffffffffff", False),
        ("7fffffffffffffff0000000000000000", False),
        ("ffffffffffffffff0000000000000000", True),  # -1
        ("c000000000000001ffffffffffffffff", True),  # -(2^62 - 1)
        ("8000000000000001ffffffffffffffff", False),
    ],
)
def test_ratio_decides_on_the_trace_id_as_dotnet_does(trace_id: str, kept: bool) -> None:
    assert Sampler(0.5, parent_based=True).should_sample(trace_id, None) is kept


def test_ratio_keeps_about_that_share_of_new_traces() -> None:
    ids = random.Random(12).getrandbits
    kept = sum(Sampler(0.1).should_sample(f"{ids(128):032x}", None) for _ in range(5000))

    assert 400 <= kept <= 600


def test_sampled_out_request_leaves_no_span_and_tells_the_next_service(
    settings: Settings, registry: ModelRegistry
) -> None:
    exporter = RecordingExporter()
    client = sampled_client(settings, registry, exporter, "parentbased_always_off")

    response = client.post("/v1/predict", json=PREDICTION)

    assert response.status_code == 200
    assert response.headers["traceparent"].endswith("-00")
    assert response.json()["predictions"]
    assert exporter.spans == []


def test_parent_based_sampler_follows_the_callers_decision_either_way(
    settings: Settings, registry: ModelRegistry
) -> None:
    # A ratio of 0 for new traces, yet the caller's sampled trace is kept whole and its unsampled one left out.
    exporter = RecordingExporter()
    client = sampled_client(settings, registry, exporter, "parentbased_traceidratio", "0")

    kept = client.post("/v1/predict", json=PREDICTION, headers={"traceparent": INCOMING_TRACEPARENT})
    dropped = client.post("/v1/predict", json=PREDICTION, headers={"traceparent": UNSAMPLED_TRACEPARENT})

    assert kept.status_code == dropped.status_code == 200
    assert dropped.headers["traceparent"].endswith("-00")
    assert sorted(span.name for span in exporter.spans) == ["POST /v1/predict", "predict sentiment"]
    assert {span.trace_id for span in exporter.spans} == {INCOMING_TRACE_ID}
    server = next(span for span in exporter.spans if span.name == "POST /v1/predict")
    model = next(span for span in exporter.spans if span.name == "predict sentiment")
    assert model.parent_span_id == server.span_id


def test_a_sampler_that_ignores_the_parent_decides_on_the_trace_id(
    settings: Settings, registry: ModelRegistry
) -> None:
    exporter = RecordingExporter()
    client = sampled_client(settings, registry, exporter, "always_off")

    response = client.post("/v1/predict", json=PREDICTION, headers={"traceparent": INCOMING_TRACEPARENT})

    assert response.status_code == 200
    assert exporter.spans == []

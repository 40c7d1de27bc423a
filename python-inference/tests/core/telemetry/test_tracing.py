from __future__ import annotations

import json
import logging
import re
import socket
from dataclasses import replace

import pytest
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.core.telemetry.tracing import MAX_LINKS
from app.core.telemetry import (
    SPAN_KIND_CONSUMER,
    SPAN_KIND_INTERNAL,
    SPAN_KIND_SERVER,
    STATUS_CODE_ERROR,
    OtlpJsonExporter,
    TraceContextFilter,
    Tracer,
    create_tracer,
    is_probe,
    parse_key_values,
    parse_traceparent,
    traces_url,
)
from app.main import create_app
from app.ml.model import ServedModel
from app.ml.registry import ModelRegistry
from tests.core.telemetry.collector import OtlpCollector, attributes_of
from tests.support import INCOMING_TRACE_ID, INCOMING_TRACEPARENT, RecordingExporter

INCOMING_PARENT_SPAN_ID = INCOMING_TRACEPARENT.split("-")[2]
HEX16 = re.compile(r"^[0-9a-f]{16}$")


def test_exporter_posts_otlp_json_that_continues_the_incoming_trace(
    collector: OtlpCollector, settings: Settings, registry: ModelRegistry
) -> None:
    otlp_settings = replace(
        settings,
        OTEL_SERVICE_NAME="inference-under-test",
        OTEL_EXPORTER_OTLP_ENDPOINT=collector.endpoint + "/",
        OTEL_EXPORTER_OTLP_HEADERS="x-otlp-api-key=s3cret%3Dkey%20here,x-other=1",
        OTEL_EXPORTER_OTLP_PROTOCOL="http/json",
        OTEL_RESOURCE_ATTRIBUTES="service.instance.id=abc123,deployment.environment=test",
    )
    app = create_app(otlp_settings, registry)
    client = TestClient(app)

    response = client.post(
        "/v1/predict",
        json={"model": "sentiment", "inputs": ["lovely", "awful"]},
        headers={"traceparent": INCOMING_TRACEPARENT},
    )
    assert app.state.tracer.force_flush(timeout=5)
    app.state.telemetry.shutdown()

    assert response.status_code == 200
    request = next((r for r in collector.requests if r["path"] == "/v1/traces"), None)
    assert request is not None, "no spans were exported"
    assert request["headers"]["Content-Type"] == "application/json"
    assert request["headers"]["x-otlp-api-key"] == "s3cret=key here"
    assert request["headers"]["x-other"] == "1"

    payload = json.loads(request["body"])
    resource = attributes_of(payload["resourceSpans"][0]["resource"])
    assert resource["service.name"] == "inference-under-test"
    assert resource["service.instance.id"] == "abc123"
    assert resource["deployment.environment"] == "test"

    spans = {span["name"]: span for span in collector.spans()}
    server = spans["POST /v1/predict"]
    inference = spans["predict sentiment"]
    assert server["traceId"] == INCOMING_TRACE_ID
    assert server["parentSpanId"] == INCOMING_PARENT_SPAN_ID
    assert HEX16.match(server["spanId"]) and server["spanId"] != INCOMING_PARENT_SPAN_ID
    assert server["kind"] == SPAN_KIND_SERVER
    assert int(server["startTimeUnixNano"]) <= int(server["endTimeUnixNano"])
    assert isinstance(server["startTimeUnixNano"], str)
    server_attributes = attributes_of(server)
    assert server_attributes["http.request.method"] == "POST"
    assert server_attributes["url.path"] == "/v1/predict"
    assert server_attributes["http.route"] == "/v1/predict"
    assert server_attributes["http.response.status_code"] == 200
    assert server_attributes["server.address"] == "testserver"
    assert server["status"] == {}

    assert inference["traceId"] == INCOMING_TRACE_ID
    assert inference["parentSpanId"] == server["spanId"]
    assert inference["kind"] == SPAN_KIND_INTERNAL
    assert attributes_of(inference) == {"ml.model.name": "sentiment", "ml.model.version": "1.0.0", "ml.batch.size": 2}
    assert response.headers["traceparent"] == f"00-{INCOMING_TRACE_ID}-{server['spanId']}-01"


def test_response_headers_continue_the_incoming_trace_with_a_new_span(traced_client: TestClient) -> None:
    response = traced_client.get("/alive", headers={"traceparent": INCOMING_TRACEPARENT})

    version, trace_id, span_id, flags = response.headers["traceparent"].split("-")
    assert (version, trace_id, flags) == ("00", INCOMING_TRACE_ID, "01")
    assert HEX16.match(span_id) and span_id != INCOMING_PARENT_SPAN_ID
    assert response.headers["x-trace-id"] == INCOMING_TRACE_ID


@pytest.mark.parametrize(
    "header",
    [None, "garbage", "00-" + "0" * 32 + "-00f067aa0ba902b7-01", "ff-" + "1" * 32 + "-" + "2" * 16 + "-01"],
)
def test_missing_or_invalid_traceparent_starts_a_new_trace(
    traced_client: TestClient, recording_exporter: RecordingExporter, header: str | None
) -> None:
    headers = {"traceparent": header} if header else {}
    first = traced_client.get("/v1/models", headers=headers)
    second = traced_client.get("/v1/models", headers=headers)

    assert re.fullmatch(r"[0-9a-f]{32}", first.headers["x-trace-id"])
    assert first.headers["x-trace-id"] != second.headers["x-trace-id"]
    assert [span.parent_span_id for span in recording_exporter.spans] == [None, None]


def test_server_span_is_named_after_the_route_template(
    traced_client: TestClient, recording_exporter: RecordingExporter
) -> None:
    traced_client.get("/v1/models")
    traced_client.get("/no/such/route")
    traced_client.delete("/v1/models")

    names = [span.name for span in recording_exporter.spans]
    assert names == ["GET /v1/models", "GET", "DELETE /v1/models"]
    assert [span.attributes["http.response.status_code"] for span in recording_exporter.spans] == [200, 404, 405]
    assert "http.route" not in recording_exporter.spans[1].attributes
    assert all(span.status_code != STATUS_CODE_ERROR for span in recording_exporter.spans)


def test_server_span_status_is_error_for_a_500(
    traced_client: TestClient, recording_exporter: RecordingExporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(self: ServedModel, inputs: object) -> object:
        raise RuntimeError("boom")

    monkeypatch.setattr(ServedModel, "predict", explode)

    response = traced_client.post("/v1/predict", json={"model": "iris", "inputs": [[1, 2, 3, 4]]})

    assert response.status_code == 500
    spans = {span.name: span for span in recording_exporter.spans}
    assert spans["POST /v1/predict"].status_code == STATUS_CODE_ERROR
    assert spans["POST /v1/predict"].attributes["http.response.status_code"] == 500
    assert spans["POST /v1/predict"].attributes["error.type"] == "RuntimeError"
    assert spans["predict iris"].status_code == STATUS_CODE_ERROR
    assert response.json()["traceId"] == spans["POST /v1/predict"].trace_id


@pytest.mark.parametrize("path", ["/health", "/alive"])
def test_probes_answer_with_trace_headers_but_leave_no_span(
    traced_client: TestClient, recording_exporter: RecordingExporter, path: str
) -> None:
    for _ in range(3):
        response = traced_client.get(path, headers={"traceparent": INCOMING_TRACEPARENT})
        assert response.status_code == 200
        assert response.headers["x-trace-id"] == INCOMING_TRACE_ID
    traced_client.get("/v1/models")

    assert [span.name for span in recording_exporter.spans] == ["GET /v1/models"]


@pytest.mark.parametrize(("path", "probe"), [("/health", True), ("/alive", True), ("/health/ready", True),
                                              ("/healthy", False), ("/v1/health", False)])
def test_probe_paths_are_whole_segments(path: str, probe: bool) -> None:
    assert is_probe(path) is probe


def test_unsampled_incoming_trace_is_propagated_but_not_exported(
    traced_client: TestClient, recording_exporter: RecordingExporter
) -> None:
    unsampled = INCOMING_TRACEPARENT[:-2] + "00"

    response = traced_client.get("/v1/models", headers={"traceparent": unsampled})

    assert response.headers["traceparent"].startswith(f"00-{INCOMING_TRACE_ID}-")
    assert response.headers["traceparent"].endswith("-00")
    assert recording_exporter.spans == []


def test_without_endpoint_spans_carry_ids_but_nothing_is_exported(settings: Settings) -> None:
    tracer = create_tracer(replace(settings, OTEL_EXPORTER_OTLP_ENDPOINT=None))

    with tracer.start_as_current_span("work") as span:
        pass

    assert tracer.exporter is None
    assert re.fullmatch(r"[0-9a-f]{32}", span.trace_id)
    assert span.end_time_ns >= span.start_time_ns


def test_a_span_with_a_remote_parent_continues_that_trace_and_becomes_current(
    recording_exporter: RecordingExporter,
) -> None:
    tracer = Tracer(recording_exporter)
    remote = parse_traceparent(INCOMING_TRACEPARENT)

    with tracer.start_as_current_span("process events.analytics", SPAN_KIND_CONSUMER, parent=remote) as span:
        with tracer.start_as_current_span("store") as child:
            pass

    assert (span.trace_id, span.parent_span_id, span.kind) == (INCOMING_TRACE_ID, INCOMING_PARENT_SPAN_ID, 5)
    assert (child.trace_id, child.parent_span_id) == (INCOMING_TRACE_ID, span.span_id)
    assert [s.name for s in recording_exporter.spans] == ["store", "process events.analytics"]


def test_grpc_protocol_disables_export(settings: Settings) -> None:
    tracer = create_tracer(
        replace(settings, OTEL_EXPORTER_OTLP_ENDPOINT="http://localhost:4317", OTEL_EXPORTER_OTLP_PROTOCOL="grpc")
    )

    assert tracer.exporter is None


def test_full_queue_drops_the_oldest_spans(collector: OtlpCollector) -> None:
    exporter = OtlpJsonExporter(
        traces_url(collector.endpoint), max_queue_size=3, max_batch_size=100, flush_interval_s=60
    )
    tracer = Tracer(exporter)

    for index in range(5):
        tracer.end_span(tracer.start_span(f"span-{index}"))
    assert exporter.force_flush(timeout=5)
    exporter.shutdown()

    assert [span["name"] for span in collector.spans()] == ["span-2", "span-3", "span-4"]


def test_a_spans_links_are_exported_and_those_past_the_limit_counted(collector: OtlpCollector) -> None:
    exporter = OtlpJsonExporter(traces_url(collector.endpoint), flush_interval_s=60)
    tracer = Tracer(exporter)
    linked = parse_traceparent(INCOMING_TRACEPARENT)
    assert linked is not None

    with tracer.start_as_current_span("process events.analytics", SPAN_KIND_CONSUMER) as batch:
        for _ in range(MAX_LINKS + 2):
            batch.add_link(linked)
    tracer.end_span(tracer.start_span("unlinked"))
    assert exporter.force_flush(timeout=5)
    exporter.shutdown()

    spans = {span["name"]: span for span in collector.spans()}
    links = spans["process events.analytics"]["links"]
    assert len(links) == MAX_LINKS
    assert links[0] == {"traceId": INCOMING_TRACE_ID, "spanId": INCOMING_PARENT_SPAN_ID}
    assert spans["process events.analytics"]["droppedLinksCount"] == 2
    assert "links" not in spans["unlinked"] and "droppedLinksCount" not in spans["unlinked"]


def test_export_failures_are_swallowed_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as probe:  # a port with nothing listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    exporter = OtlpJsonExporter(f"http://127.0.0.1:{port}/v1/traces", flush_interval_s=60)
    tracer = Tracer(exporter)

    with caplog.at_level(logging.WARNING, logger="app.core.telemetry"):
        for _ in range(2):
            tracer.end_span(tracer.start_span("lost"))
            assert exporter.force_flush(timeout=5)
    exporter.shutdown()

    warnings = [r for r in caplog.records if "OTLP spans export" in r.getMessage()]
    assert len(warnings) == 1  # rate-limited: the second failure is not logged again


@pytest.mark.parametrize(
    ("endpoint", "url"),
    [
        ("http://localhost:4318", "http://localhost:4318/v1/traces"),
        ("http://localhost:4318/", "http://localhost:4318/v1/traces"),
        ("https://collector/otlp/", "https://collector/otlp/v1/traces"),
        ("http://localhost:4318/v1/traces", "http://localhost:4318/v1/traces"),
    ],
)
def test_traces_url_appends_v1_traces_once(endpoint: str, url: str) -> None:
    assert traces_url(endpoint) == url


def test_key_value_lists_are_split_and_url_decoded() -> None:
    parsed = parse_key_values(" x-otlp-api-key = a%2Cb%3Dc , broken, k2=v 2,=nokey")

    assert parsed == {"x-otlp-api-key": "a,b=c", "k2": "v 2"}


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (INCOMING_TRACEPARENT, (INCOMING_TRACE_ID, INCOMING_PARENT_SPAN_ID, True)),
        (INCOMING_TRACEPARENT.upper(), None),
        (INCOMING_TRACEPARENT[:-2] + "00", (INCOMING_TRACE_ID, INCOMING_PARENT_SPAN_ID, False)),
        ("01-" + INCOMING_TRACEPARENT[3:] + "-future", (INCOMING_TRACE_ID, INCOMING_PARENT_SPAN_ID, True)),
        (INCOMING_TRACEPARENT + "-extra", None),
        ("00-" + INCOMING_TRACE_ID + "-" + "0" * 16 + "-01", None),
        ("00-shorttrace-00f067aa0ba902b7-01", None),
        ("", None),
    ],
)
def test_parse_traceparent(header: str, expected: tuple[str, str, bool] | None) -> None:
    parsed = parse_traceparent(header)

    assert (tuple(parsed) if parsed else None) == expected


def test_log_filter_adds_the_current_trace_and_span_ids() -> None:
    tracer = Tracer()
    log_filter = TraceContextFilter()
    inside = logging.LogRecord("app", logging.INFO, __file__, 1, "inside", None, None)
    outside = logging.LogRecord("app", logging.INFO, __file__, 1, "outside", None, None)

    with tracer.start_as_current_span("work") as span:
        log_filter.filter(inside)
    log_filter.filter(outside)

    assert (inside.trace_id, inside.span_id) == (span.trace_id, span.span_id)  # type: ignore[attr-defined]
    assert (outside.trace_id, outside.span_id) == ("-", "-")  # type: ignore[attr-defined]

"""Python logging as OTLP logs: the record's shape in the OTLP JSON mapping, and the handler end to end into a real
collector, where a failed request's problem is found by the trace id the client saw."""

from __future__ import annotations

import logging
import re
import sys
from dataclasses import replace

import pytest
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.core.telemetry import Tracer, configure_logging, encode_logs
from app.core.telemetry.logs import capture, severity_number
from app.main import create_app
from app.ml.registry import ModelRegistry
from tests.core.telemetry.collector import OtlpCollector, attributes_of


def _record(level: int, message: str, *args: object, exc_info: object = None, **extra: object) -> logging.LogRecord:
    record = logging.getLogger("app.example").makeRecord(
        "app.example", level, __file__, 42, message, args, exc_info, func="handler", extra=extra or None
    )
    return record


def test_a_record_becomes_an_otlp_log_record_in_its_span() -> None:
    tracer = Tracer()
    try:
        raise ValueError("bad input")
    except ValueError:
        exc_info = sys.exc_info()
    with tracer.start_as_current_span("work") as span:
        captured = capture(
            _record(logging.ERROR, "scoring %s failed", "batch-7", exc_info=exc_info, job_id=12, ratio=0.5, ok=True)
        )

    body = encode_logs([captured], {"service.name": "python-inference"})

    [resource_logs] = body["resourceLogs"]
    assert attributes_of(resource_logs["resource"]) == {"service.name": "python-inference"}
    [scope_logs] = resource_logs["scopeLogs"]
    assert scope_logs["scope"] == {"name": "app.example"}  # the logger's name: the dashboard's category
    [record] = scope_logs["logRecords"]
    assert record["severityNumber"] == 17
    assert record["severityText"] == "ERROR"
    assert record["body"] == {"stringValue": "scoring batch-7 failed"}
    assert (record["traceId"], record["spanId"]) == (span.trace_id, span.span_id)
    assert re.fullmatch(r"\d{19}", record["timeUnixNano"])  # nanoseconds, as a string (fixed64)
    assert record["timeUnixNano"] == record["observedTimeUnixNano"]
    encoded = {a["key"]: a["value"] for a in record["attributes"]}
    assert encoded["job_id"] == {"intValue": "12"}  # int64 is a string in the protobuf JSON mapping
    assert encoded["ratio"] == {"doubleValue": 0.5}
    assert encoded["ok"] == {"boolValue": True}
    assert encoded["code.lineno"] == {"intValue": "42"}
    assert encoded["code.function"] == {"stringValue": "handler"}
    assert encoded["exception.type"] == {"stringValue": "ValueError"}
    assert encoded["exception.message"] == {"stringValue": "bad input"}
    stacktrace = encoded["exception.stacktrace"]["stringValue"]
    assert stacktrace.startswith("Traceback (most recent call last):") and "ValueError: bad input" in stacktrace
    assert not {"msg", "args", "levelname", "exc_info"} & encoded.keys()


def test_a_record_outside_any_span_has_no_trace_context() -> None:
    [record] = encode_logs([capture(_record(logging.INFO, "started"))], {})["resourceLogs"][0]["scopeLogs"][0][
        "logRecords"
    ]

    assert "traceId" not in record and "spanId" not in record
    assert record["severityNumber"] == 9


@pytest.mark.parametrize(
    ("level", "number"),
    [(logging.DEBUG, 5), (logging.INFO, 9), (logging.WARNING, 13), (logging.ERROR, 17), (logging.CRITICAL, 21),
     (25, 11), (5, 3), (1, 1)],
)
def test_python_levels_map_onto_otlp_severity_numbers(level: int, number: int) -> None:
    assert severity_number(level) == number


def test_records_of_several_loggers_are_grouped_by_scope() -> None:
    records = [capture(_record(logging.INFO, "one")), capture(_record(logging.INFO, "two"))]
    other = logging.getLogger("app.other").makeRecord("app.other", logging.INFO, __file__, 1, "three", (), None)
    records.append(capture(other))

    scopes = encode_logs(records, {})["resourceLogs"][0]["scopeLogs"]

    assert [(s["scope"]["name"], len(s["logRecords"])) for s in scopes] == [("app.example", 2), ("app.other", 1)]


def test_a_failed_requests_problem_is_logged_with_the_trace_id_the_client_saw(
    collector: OtlpCollector, settings: Settings, registry: ModelRegistry
) -> None:
    app = create_app(replace(settings, OTEL_EXPORTER_OTLP_ENDPOINT=collector.endpoint), registry)
    try:
        response = TestClient(app).post("/v1/predict", json={"model": "no-such-model", "inputs": ["x"]})
        assert app.state.telemetry.log_handler.exporter.force_flush(timeout=5)
    finally:
        app.state.telemetry.shutdown()

    assert response.status_code == 404
    trace_id = response.json()["traceId"]
    problems = [
        (scope, record) for scope, record in collector.log_records() if record.get("traceId") == trace_id
    ]
    assert problems, f"no log record carries trace {trace_id}"
    [(scope, record)] = problems
    assert scope == "app.api.errors"
    assert record["severityText"] == "INFO"
    assert "model_not_found" in record["body"]["stringValue"]
    assert attributes_of(record)["problem.code"] == "model_not_found"
    assert collector.requests[-1]["headers"]["Content-Type"] == "application/json"


def test_the_handler_is_replaced_not_added_when_a_second_app_starts(
    collector: OtlpCollector, settings: Settings, registry: ModelRegistry
) -> None:
    otlp = replace(settings, OTEL_EXPORTER_OTLP_ENDPOINT=collector.endpoint)
    first = create_app(otlp, registry)
    second = create_app(otlp, registry)
    try:
        handlers = [h for h in logging.getLogger("app").handlers if h is first.state.telemetry.log_handler
                    or h is second.state.telemetry.log_handler]
        assert handlers == [second.state.telemetry.log_handler]
    finally:
        second.state.telemetry.shutdown()
        first.state.telemetry.shutdown()

    assert second.state.telemetry.log_handler not in logging.getLogger("app").handlers


def test_aiormqs_exception_call_without_an_exception_prints_no_empty_traceback(caplog: pytest.LogCaptureFixture) -> None:
    """aiormq 6.4 logs a connection the broker closed with `log.exception` outside any exception ("NoneType: None"
    under the line); a real exception's traceback is kept."""
    configure_logging()
    logger = logging.getLogger("aiormq.connection")
    with caplog.at_level(logging.INFO):
        logger.exception("Unexpected connection close from remote")
        try:
            raise ConnectionResetError("reset by peer")
        except ConnectionResetError:
            logger.exception("reading failed")
    assert [(record.levelname, record.exc_info is None) for record in caplog.records] == [
        ("ERROR", True),
        ("ERROR", False),
    ]
    assert "NoneType: None" not in caplog.text and "ConnectionResetError: reset by peer" in caplog.text

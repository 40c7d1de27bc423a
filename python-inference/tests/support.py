"""Test helpers: assertions on the RFC 9457 problem responses, and an in-memory span exporter."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import httpx
from jsonschema import Draft202012Validator

from app.core.telemetry import Span

TRACE_ID = re.compile(r"^[0-9a-f]{32}$")
# A traceparent a caller (the C# gateway) would send; errors must quote its trace id.
INCOMING_TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
INCOMING_TRACEPARENT = f"00-{INCOMING_TRACE_ID}-00f067aa0ba902b7-01"
# The one description of the error contract, shared with the C# tests.
PROBLEM_SCHEMA_PATH = Path(__file__).resolve().parents[2] / "protos" / "problem-details.schema.json"


@cache
def problem_schema() -> Draft202012Validator:
    schema = json.loads(PROBLEM_SCHEMA_PATH.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def assert_matches_problem_schema(body: dict[str, Any]) -> None:
    violations = [f"{'/'.join(map(str, error.path)) or '(root)'}: {error.message}"
                  for error in problem_schema().iter_errors(body)]
    assert not violations, f"not a problem of the contract: {violations}"


def assert_problem(
    response: httpx.Response,
    status: int,
    code: str,
    instance: str,
    *,
    trace_id: str | None = None,
) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert_matches_problem_schema(body)
    assert body["type"] == f"urn:problem:{code}"
    assert body["status"] == status
    assert body["code"] == code
    assert body["instance"] == instance
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    assert TRACE_ID.match(body["traceId"]), body["traceId"]
    assert body["traceId"] == response.headers["x-trace-id"]
    if trace_id is not None:
        assert body["traceId"] == trace_id
    return body


class RecordingExporter:
    """Keeps finished spans in memory, in place of the OTLP exporter."""

    def __init__(self) -> None:
        self.spans: list[Span] = []

    def export(self, span: Span) -> None:
        self.spans.append(span)

    def force_flush(self, timeout: float = 5.0) -> bool:
        return True

    def shutdown(self, timeout: float = 5.0) -> None:
        pass

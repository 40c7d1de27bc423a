"""Test helpers: assertions on the RFC 9457 problem responses, and an in-memory span exporter."""

from __future__ import annotations

import re
from typing import Any

import httpx

from app.core.telemetry import Span

TRACE_ID = re.compile(r"^[0-9a-f]{32}$")
# A traceparent a caller (the C# gateway) would send; errors must quote its trace id.
INCOMING_TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
INCOMING_TRACEPARENT = f"00-{INCOMING_TRACE_ID}-00f067aa0ba902b7-01"


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

"""Distributed tracing without the OpenTelemetry SDK (Debian has none): W3C trace context in,
spans out as OTLP/HTTP JSON, so the C# gateway's trace continues through this service.

- `TelemetryMiddleware` opens one SERVER span per HTTP request, continuing the incoming
  `traceparent` (or starting a trace) and answering with `traceparent` and `X-Trace-Id` headers.
- `Tracer.start_as_current_span` opens child spans (model inference) under the current span, or
  under a remote parent (the `traceparent` header of a consumed message).
- `OtlpJsonExporter` posts finished spans in batches from a daemon thread, never blocking requests.
"""

from __future__ import annotations

import atexit
import contextvars
import json
import logging
import os
import re
import threading
import time
import urllib.parse
import urllib.request
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.config import Settings

logger = logging.getLogger(__name__)

# OTLP enum values (opentelemetry-proto trace.proto).
SPAN_KIND_INTERNAL = 1
SPAN_KIND_SERVER = 2
SPAN_KIND_PRODUCER = 4
SPAN_KIND_CONSUMER = 5
STATUS_CODE_UNSET = 0
STATUS_CODE_ERROR = 2

INSTRUMENTATION_SCOPE = "python-inference"
AttributeValue = str | bool | int | float


class SpanContext(NamedTuple):
    trace_id: str  # 32 lowercase hex
    span_id: str  # 16 lowercase hex
    sampled: bool


@dataclass
class Span:
    name: str
    kind: int
    trace_id: str
    span_id: str
    parent_span_id: str | None
    sampled: bool
    start_time_ns: int
    end_time_ns: int = 0
    attributes: dict[str, AttributeValue] = field(default_factory=dict)
    status_code: int = STATUS_CODE_UNSET
    status_message: str = ""

    @property
    def context(self) -> SpanContext:
        return SpanContext(self.trace_id, self.span_id, self.sampled)

    @property
    def traceparent(self) -> str:
        return f"00-{self.trace_id}-{self.span_id}-{'01' if self.sampled else '00'}"

    def set_error(self, message: str) -> None:
        self.status_code = STATUS_CODE_ERROR
        self.status_message = message


_current_span: contextvars.ContextVar[Span | None] = contextvars.ContextVar("current_span", default=None)


def current_span() -> Span | None:
    return _current_span.get()


def current_trace_id() -> str | None:
    span = _current_span.get()
    return span.trace_id if span else None


_TRACEPARENT = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$")


def parse_traceparent(value: str | None) -> SpanContext | None:
    """Parse a W3C `traceparent` header; anything invalid means "start a new trace"."""
    if not value:
        return None
    match = _TRACEPARENT.match(value.strip())  # upper-case hex is invalid too
    if not match:
        return None
    version, trace_id, span_id, flags, rest = match.groups()
    if version == "ff" or (version == "00" and rest) or set(trace_id) == {"0"} or set(span_id) == {"0"}:
        return None
    return SpanContext(trace_id, span_id, sampled=bool(int(flags, 16) & 0x01))


def _random_hex(size: int) -> str:
    while True:
        value = os.urandom(size).hex()
        if value.strip("0"):
            return value


class SpanExporter(Protocol):
    def export(self, span: Span) -> None: ...

    def force_flush(self, timeout: float = ...) -> bool: ...

    def shutdown(self, timeout: float = ...) -> None: ...


class Tracer:
    """Creates spans; only sampled spans (per the incoming trace flags) reach the exporter."""

    def __init__(self, exporter: SpanExporter | None = None) -> None:
        self.exporter = exporter

    def start_span(
        self,
        name: str,
        kind: int = SPAN_KIND_INTERNAL,
        *,
        parent: SpanContext | None = None,
        attributes: Mapping[str, AttributeValue] | None = None,
    ) -> Span:
        """Start a span under `parent`, else under the current span, else as a new trace's root."""
        if parent is None:
            current = _current_span.get()
            parent = current.context if current else None
        return Span(
            name=name,
            kind=kind,
            trace_id=parent.trace_id if parent else _random_hex(16),
            span_id=_random_hex(8),
            parent_span_id=parent.span_id if parent else None,
            sampled=parent.sampled if parent else True,
            start_time_ns=time.time_ns(),
            attributes=dict(attributes or {}),
        )

    def end_span(self, span: Span) -> None:
        span.end_time_ns = time.time_ns()
        if span.sampled and self.exporter is not None:
            self.exporter.export(span)

    @contextmanager
    def start_as_current_span(
        self,
        name: str,
        kind: int = SPAN_KIND_INTERNAL,
        *,
        parent: SpanContext | None = None,
        attributes: Mapping[str, AttributeValue] | None = None,
    ) -> Iterator[Span]:
        span = self.start_span(name, kind, parent=parent, attributes=attributes)
        token = _current_span.set(span)
        try:
            yield span
        except BaseException as error:
            span.set_error(type(error).__name__)
            raise
        finally:
            _current_span.reset(token)
            self.end_span(span)

    def force_flush(self, timeout: float = 5.0) -> bool:
        return self.exporter.force_flush(timeout) if self.exporter else True

    def shutdown(self, timeout: float = 5.0) -> None:
        if self.exporter:
            self.exporter.shutdown(timeout)


# --- OTLP/HTTP JSON export -------------------------------------------------------------------


def parse_key_values(value: str | None) -> dict[str, str]:
    """Parse the OTEL_* list format `k=v,k2=v2` (values are URL-encoded)."""
    pairs: dict[str, str] = {}
    for item in (value or "").split(","):
        key, equals, raw = item.partition("=")
        if not equals or not key.strip():
            if item.strip():
                logger.warning("ignoring malformed OTEL key=value item %r", item.strip())
            continue
        pairs[key.strip()] = urllib.parse.unquote(raw.strip())
    return pairs


def traces_url(endpoint: str) -> str:
    base = endpoint.rstrip("/")
    return base if base.endswith("/v1/traces") else f"{base}/v1/traces"


def _attribute(key: str, value: AttributeValue) -> dict[str, Any]:
    if isinstance(value, bool):
        encoded: dict[str, Any] = {"boolValue": value}
    elif isinstance(value, int):
        encoded = {"intValue": str(value)}  # int64 is a string in the protobuf JSON mapping
    elif isinstance(value, float):
        encoded = {"doubleValue": value}
    else:
        encoded = {"stringValue": str(value)}
    return {"key": key, "value": encoded}


def encode_spans(spans: list[Span], resource_attributes: Mapping[str, AttributeValue]) -> dict[str, Any]:
    """The OTLP JSON body of an ExportTraceServiceRequest."""
    encoded = []
    for span in spans:
        item: dict[str, Any] = {
            "traceId": span.trace_id,
            "spanId": span.span_id,
            "name": span.name,
            "kind": span.kind,
            "startTimeUnixNano": str(span.start_time_ns),
            "endTimeUnixNano": str(span.end_time_ns),
            "attributes": [_attribute(key, value) for key, value in span.attributes.items()],
            "status": {"code": span.status_code, "message": span.status_message}
            if span.status_code != STATUS_CODE_UNSET
            else {},
        }
        if span.parent_span_id:
            item["parentSpanId"] = span.parent_span_id
        encoded.append(item)
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": [_attribute(k, v) for k, v in resource_attributes.items()]},
                "scopeSpans": [{"scope": {"name": INSTRUMENTATION_SCOPE}, "spans": encoded}],
            }
        ]
    }


class OtlpJsonExporter:
    """Batches spans in a bounded queue (oldest dropped when full) and posts them from a daemon thread."""

    ERROR_LOG_INTERVAL_S = 60.0

    def __init__(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        resource_attributes: Mapping[str, AttributeValue] | None = None,
        max_queue_size: int = 2048,
        max_batch_size: int = 256,
        flush_interval_s: float = 1.0,
        request_timeout_s: float = 5.0,
    ) -> None:
        self.url = url
        self.headers = {**(headers or {}), "Content-Type": "application/json"}
        self.resource_attributes = dict(resource_attributes or {})
        self._max_batch_size = max_batch_size
        self._flush_interval_s = flush_interval_s
        self._request_timeout_s = request_timeout_s
        self._queue: deque[Span] = deque(maxlen=max_queue_size)
        self._condition = threading.Condition()
        self._enqueued = 0  # spans accepted so far
        self._settled = 0  # spans sent, failed or dropped so far
        self._flush_target = 0
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._failures = 0
        self._dropped = 0
        self._last_report = float("-inf")

    def export(self, span: Span) -> None:
        with self._condition:
            if self._stopping:
                return
            if len(self._queue) == self._queue.maxlen:
                self._settled += 1  # the oldest span falls out of the deque below
                self._dropped += 1
            self._queue.append(span)
            self._enqueued += 1
            if len(self._queue) >= self._max_batch_size:
                self._condition.notify_all()
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="otlp-span-exporter", daemon=True)
                self._thread.start()
                atexit.register(self.shutdown)

    def force_flush(self, timeout: float = 5.0) -> bool:
        """Wait until every span exported before this call has been sent (or given up on)."""
        with self._condition:
            target = self._enqueued
            self._flush_target = max(self._flush_target, target)
            self._condition.notify_all()
            return self._condition.wait_for(lambda: self._settled >= target, timeout)

    def shutdown(self, timeout: float = 5.0) -> None:
        self.force_flush(timeout)
        with self._condition:
            self._stopping = True
            self._condition.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout)
            atexit.unregister(self.shutdown)

    def _run(self) -> None:
        while True:
            with self._condition:
                self._condition.wait_for(
                    lambda: self._stopping
                    or self._flush_target > self._settled
                    or len(self._queue) >= self._max_batch_size,
                    timeout=self._flush_interval_s,
                )
                batch = [self._queue.popleft() for _ in range(min(len(self._queue), self._max_batch_size))]
                if not batch and self._stopping:
                    return
            if batch:
                self._send(batch)
            with self._condition:
                self._settled += len(batch)
                self._condition.notify_all()

    def _send(self, batch: list[Span]) -> None:
        body = json.dumps(encode_spans(batch, self.resource_attributes), separators=(",", ":")).encode("utf-8")
        request = urllib.request.Request(self.url, data=body, headers=self.headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self._request_timeout_s) as response:
                response.read()
        except Exception as error:  # noqa: BLE001 - telemetry must never take the service down
            self._failures += 1
            self._report(error)

    def _report(self, error: Exception) -> None:
        now = time.monotonic()
        if now - self._last_report < self.ERROR_LOG_INTERVAL_S:
            return
        self._last_report = now
        logger.warning(
            "OTLP span export to %s failed (%d failed batches, %d dropped spans so far): %s",
            self.url,
            self._failures,
            self._dropped,
            error,
        )


def create_tracer(settings: Settings) -> Tracer:
    """A tracer that exports when OTEL_EXPORTER_OTLP_ENDPOINT is set; otherwise spans only carry ids."""
    endpoint = settings.OTEL_EXPORTER_OTLP_ENDPOINT
    if not endpoint:
        return Tracer()
    protocol = (settings.OTEL_EXPORTER_OTLP_PROTOCOL or "http/json").lower()
    if protocol == "grpc":
        logger.warning("OTEL_EXPORTER_OTLP_PROTOCOL=grpc is not supported (only http/json); spans are not exported")
        return Tracer()
    resource: dict[str, AttributeValue] = {**parse_key_values(settings.OTEL_RESOURCE_ATTRIBUTES)}
    resource["service.name"] = settings.OTEL_SERVICE_NAME
    resource.setdefault("telemetry.sdk.language", "python")
    exporter = OtlpJsonExporter(
        traces_url(endpoint),
        headers=parse_key_values(settings.OTEL_EXPORTER_OTLP_HEADERS),
        resource_attributes=resource,
    )
    return Tracer(exporter)


# --- HTTP server spans -------------------------------------------------------------------------


class TelemetryMiddleware:
    """Pure ASGI middleware: one SERVER span per HTTP request.

    It also turns an unhandled exception into `error_response` itself, so that the 500 response
    still carries the trace headers and its body can quote the trace id.
    """

    def __init__(
        self,
        app: ASGIApp,
        tracer: Tracer,
        error_response: Callable[[Scope], Response] | None = None,
    ) -> None:
        self.app = app
        self.tracer = tracer
        self.error_response = error_response

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        method: str = scope["method"]
        host, port = _split_host(headers.get("host") or "")
        attributes: dict[str, AttributeValue] = {
            "http.request.method": method,
            "url.path": scope["path"],
            "url.scheme": scope.get("scheme", "http"),
            "server.address": host or (scope.get("server") or ("",))[0],
        }
        if port is not None:
            attributes["server.port"] = port
        span = self.tracer.start_span(
            method,
            SPAN_KIND_SERVER,
            parent=parse_traceparent(headers.get("traceparent")),
            attributes=attributes,
        )
        token = _current_span.set(span)
        status_code: int | None = None

        async def send_with_trace_headers(message: Message) -> None:
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = message["status"]
                trace_headers = [
                    (b"traceparent", span.traceparent.encode("latin-1")),
                    (b"x-trace-id", span.trace_id.encode("latin-1")),
                ]
                message = {**message, "headers": [*message.get("headers", []), *trace_headers]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_trace_headers)
        except Exception as error:
            span.attributes["error.type"] = type(error).__qualname__
            if status_code is not None or self.error_response is None:
                status_code = status_code or 500
                raise
            logger.exception("unhandled error in %s %s", method, scope["path"])
            await self.error_response(scope)(scope, receive, send_with_trace_headers)
        finally:
            route = _route_template(scope)
            span.name = f"{method} {route}" if route else method
            if route:
                span.attributes["http.route"] = route
            if status_code is not None:
                span.attributes["http.response.status_code"] = status_code
            if status_code is None or status_code >= 500:
                span.set_error(f"HTTP {status_code or 500}")
            _current_span.reset(token)
            self.tracer.end_span(span)


def _split_host(value: str) -> tuple[str, int | None]:
    """`example.com:8080` or `[::1]:8080` -> host and port."""
    host, colon, port = value.rpartition(":")
    if colon and port.isdigit() and (not host.startswith("[") or host.endswith("]")):
        return host.strip("[]"), int(port)
    return value.strip("[]"), None


def _route_template(scope: Scope) -> str | None:
    """The matched route's path template (e.g. `/v1/models`), also for a 405 on a known path."""
    route = scope.get("route")
    if route is not None and isinstance(getattr(route, "path", None), str):
        return route.path
    router = getattr(scope.get("app"), "router", None)
    partial: str | None = None
    for candidate in getattr(router, "routes", []):
        try:
            match, _ = candidate.matches(scope)
        except Exception:  # noqa: BLE001 - a naming problem must not fail the request
            continue
        path = getattr(candidate, "path", None)
        if match == Match.FULL:
            return path
        if match == Match.PARTIAL and partial is None:
            partial = path
    return partial


# --- logging -----------------------------------------------------------------------------------


class TraceContextFilter(logging.Filter):
    """Adds `trace_id` and `span_id` (or "-") to every record, so log lines join their trace."""

    def filter(self, record: logging.LogRecord) -> bool:
        span = _current_span.get()
        record.trace_id = span.trace_id if span else "-"
        record.span_id = span.span_id if span else "-"
        return True


LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s [trace_id=%(trace_id)s span_id=%(span_id)s] %(message)s"


def configure_logging(level: int = logging.INFO) -> None:
    """Give the `app` loggers a handler that prints the trace context (idempotent)."""
    app_logger = logging.getLogger("app")
    app_logger.setLevel(level)
    if any(isinstance(f, TraceContextFilter) for h in app_logger.handlers for f in h.filters):
        return
    handler = logging.StreamHandler()
    handler.addFilter(TraceContextFilter())
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    app_logger.addHandler(handler)

"""Telemetry without the OpenTelemetry SDK (Debian has none): W3C trace context in, and traces, logs and metrics out
as OTLP/HTTP JSON to the collector Aspire names (its dashboard), so the C# services' traces continue through this one.

- tracing.py: spans, the current span, `traceparent`.
- http.py: `TelemetryMiddleware`, one SERVER span and one `http.server.request.duration` measurement per request.
- logs.py: `OtlpLogHandler`, the `app` loggers' records as OTLP logs with the current trace and span ids.
- metrics.py, instruments.py: counters and histograms, and the service's instruments.
- otlp.py: the JSON encoding and the bounded, batching, never-blocking export every signal shares.
- setup.py: `create_telemetry(settings)`.
"""

from app.core.telemetry.http import TelemetryMiddleware, is_probe
from app.core.telemetry.logs import OtlpLogHandler, TraceContextFilter, configure_logging, encode_logs
from app.core.telemetry.metrics import Counter, Histogram, Meter, encode_metrics
from app.core.telemetry.otlp import OtlpJsonExporter, encode_spans, parse_key_values, signal_url, traces_url
from app.core.telemetry.setup import Telemetry, create_telemetry, create_tracer
from app.core.telemetry.tracing import (
    SPAN_KIND_CLIENT,
    SPAN_KIND_CONSUMER,
    SPAN_KIND_INTERNAL,
    SPAN_KIND_PRODUCER,
    SPAN_KIND_SERVER,
    STATUS_CODE_ERROR,
    STATUS_CODE_UNSET,
    AttributeValue,
    Span,
    SpanContext,
    Tracer,
    current_span,
    current_trace_id,
    parse_traceparent,
)

__all__ = [
    "SPAN_KIND_CLIENT",
    "SPAN_KIND_CONSUMER",
    "SPAN_KIND_INTERNAL",
    "SPAN_KIND_PRODUCER",
    "SPAN_KIND_SERVER",
    "STATUS_CODE_ERROR",
    "STATUS_CODE_UNSET",
    "AttributeValue",
    "Counter",
    "Histogram",
    "Meter",
    "OtlpJsonExporter",
    "OtlpLogHandler",
    "Span",
    "SpanContext",
    "Telemetry",
    "TelemetryMiddleware",
    "TraceContextFilter",
    "Tracer",
    "configure_logging",
    "create_telemetry",
    "create_tracer",
    "current_span",
    "current_trace_id",
    "encode_logs",
    "encode_metrics",
    "encode_spans",
    "is_probe",
    "parse_key_values",
    "parse_traceparent",
    "signal_url",
    "traces_url",
]

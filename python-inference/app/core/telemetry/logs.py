"""Python logging into OTLP logs (the dashboard's structured logs): `OtlpLogHandler` turns each LogRecord into a log
record with its severity, message, logger name (as the instrumentation scope, which the dashboard shows as the
category), `extra=` fields and exception as attributes, and the trace and span ids of the span current when it was
written. Records go through the same bounded, batching exporter as spans (app/core/telemetry/otlp.py)."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from app.core.telemetry.otlp import encode_attributes, encode_resource
from app.core.telemetry.tracing import AttributeValue, current_span

# The attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD_RECORD_FIELDS = frozenset(
    vars(logging.LogRecord("", logging.INFO, "", 0, "", None, None)).keys()
    | {"message", "asctime", "trace_id", "span_id", "taskName"}
)


@dataclass(frozen=True)
class LogData:
    """One log record, captured when it was written (the message formatted, the trace context read)."""

    time_unix_nano: int
    severity_number: int
    severity_text: str
    body: str
    scope: str
    attributes: dict[str, AttributeValue] = field(default_factory=dict)
    trace_id: str | None = None
    span_id: str | None = None


def severity_number(level: int) -> int:
    """Python's levels on OTLP's severity numbers: DEBUG 5, INFO 9, WARNING 13, ERROR 17, CRITICAL 21; levels in
    between keep their offset within the range (e.g. 25 -> 11, INFO3)."""
    if level < logging.DEBUG:
        return max(1, min(4, 1 + level * 4 // logging.DEBUG))  # TRACE..TRACE4
    return min(24, 5 + (level - logging.DEBUG) * 4 // 10)


def _attribute_value(value: Any) -> AttributeValue:
    return value if isinstance(value, (str, bool, int, float)) else repr(value)


def capture(record: logging.LogRecord) -> LogData:
    attributes: dict[str, AttributeValue] = {
        key: _attribute_value(value)
        for key, value in vars(record).items()
        if key not in _STANDARD_RECORD_FIELDS and not key.startswith("_")
    }
    attributes["code.filepath"] = record.pathname
    attributes["code.lineno"] = record.lineno
    attributes["code.function"] = record.funcName
    attributes["thread.name"] = record.threadName or ""
    if record.exc_info and record.exc_info[0] is not None:
        kind, error, trace = record.exc_info
        attributes["exception.type"] = kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
        attributes["exception.message"] = str(error)
        attributes["exception.stacktrace"] = "".join(traceback.format_exception(kind, error, trace))
    span = current_span()
    return LogData(
        time_unix_nano=int(record.created * 1e9),
        severity_number=severity_number(record.levelno),
        severity_text=record.levelname,
        body=record.getMessage(),
        scope=record.name,
        attributes=attributes,
        trace_id=span.trace_id if span else None,
        span_id=span.span_id if span else None,
    )


def encode_logs(records: Sequence[LogData], resource_attributes: Mapping[str, AttributeValue]) -> dict[str, Any]:
    """The OTLP JSON body of an ExportLogsServiceRequest: one scope per logger name."""
    scopes: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        item: dict[str, Any] = {
            "timeUnixNano": str(record.time_unix_nano),
            "observedTimeUnixNano": str(record.time_unix_nano),
            "severityNumber": record.severity_number,
            "severityText": record.severity_text,
            "body": {"stringValue": record.body},
            "attributes": encode_attributes(record.attributes),
        }
        if record.trace_id and record.span_id:
            item["traceId"] = record.trace_id
            item["spanId"] = record.span_id
            item["flags"] = 1
        scopes.setdefault(record.scope, []).append(item)
    return {
        "resourceLogs": [
            {
                "resource": encode_resource(resource_attributes),
                "scopeLogs": [{"scope": {"name": name}, "logRecords": items} for name, items in scopes.items()],
            }
        ]
    }


class LogExporter(Protocol):
    def export(self, item: LogData) -> None: ...

    def force_flush(self, timeout: float = ...) -> bool: ...

    def shutdown(self, timeout: float = ...) -> None: ...


class OtlpLogHandler(logging.Handler):
    """Hands each record to the exporter's queue: no I/O on the caller's thread."""

    def __init__(self, exporter: LogExporter, level: int = logging.NOTSET) -> None:
        super().__init__(level)
        self.exporter = exporter

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.exporter.export(capture(record))
        except Exception:  # noqa: BLE001 - logging must never fail the caller
            self.handleError(record)

    def flush(self) -> None:
        self.exporter.force_flush(1.0)

    def close(self) -> None:
        self.exporter.shutdown(5.0)
        super().close()


class TraceContextFilter(logging.Filter):
    """Adds `trace_id` and `span_id` (or "-") to every record, so console lines join their trace too."""

    def filter(self, record: logging.LogRecord) -> bool:
        span = current_span()
        record.trace_id = span.trace_id if span else "-"
        record.span_id = span.span_id if span else "-"
        return True


class EmptyTracebackFilter(logging.Filter):
    """Drops a record's traceback when there is no exception to show. aiormq 6.4 logs a connection the broker closed
    (a broker restart) with `log.exception` outside any exception, which printed "NoneType: None" under the line as
    if it were a traceback. The record keeps its level and message."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[0] is None:
            record.exc_info = None
        return True


# Third-party loggers that call `exception` with no exception in hand.
EMPTY_TRACEBACK_LOGGERS = ("aiormq.connection",)

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s [trace_id=%(trace_id)s span_id=%(span_id)s] %(message)s"


def configure_logging(level: int = logging.INFO) -> None:
    """Give the `app` loggers a console handler that prints the trace context, and drop the empty tracebacks of
    EMPTY_TRACEBACK_LOGGERS (idempotent)."""
    for name in EMPTY_TRACEBACK_LOGGERS:
        third_party = logging.getLogger(name)
        if not any(isinstance(f, EmptyTracebackFilter) for f in third_party.filters):
            third_party.addFilter(EmptyTracebackFilter())
    app_logger = logging.getLogger("app")
    app_logger.setLevel(level)
    if any(isinstance(f, TraceContextFilter) for h in app_logger.handlers for f in h.filters):
        return
    handler = logging.StreamHandler()
    handler.addFilter(TraceContextFilter())
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    app_logger.addHandler(handler)


def install_log_handler(handler: OtlpLogHandler, logger_names: Sequence[str] = ("app",)) -> None:
    """Send the service's own loggers to OTLP, replacing the handler a previous app of this process installed."""
    for name in logger_names:
        target = logging.getLogger(name)
        for existing in [h for h in target.handlers if isinstance(h, OtlpLogHandler)]:
            target.removeHandler(existing)
            existing.close()
        target.addHandler(handler)


def uninstall_log_handler(handler: OtlpLogHandler, logger_names: Sequence[str] = ("app",)) -> None:
    for name in logger_names:
        logging.getLogger(name).removeHandler(handler)
    handler.close()

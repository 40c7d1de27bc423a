"""Spans and the W3C trace context: `Tracer.start_as_current_span` opens a span under the current one (or under a
remote parent, e.g. the `traceparent` of a request or a consumed message); finished, sampled and recorded spans go
to the exporter."""

from __future__ import annotations

import contextvars
import os
import re
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple, Protocol

if TYPE_CHECKING:
    from app.core.telemetry.sampling import Sampler

# OTLP enum values (opentelemetry-proto trace.proto).
SPAN_KIND_INTERNAL = 1
SPAN_KIND_SERVER = 2
SPAN_KIND_CLIENT = 3
SPAN_KIND_PRODUCER = 4
SPAN_KIND_CONSUMER = 5
STATUS_CODE_UNSET = 0
STATUS_CODE_ERROR = 2

AttributeValue = str | bool | int | float
# The most links a span keeps (OpenTelemetry's default OTEL_SPAN_LINK_COUNT_LIMIT); more are only counted.
MAX_LINKS = 128


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
    # False for a span that only carries ids (a health probe's): it propagates, but is never exported.
    recorded: bool = True
    links: list[SpanContext] = field(default_factory=list)
    dropped_links: int = 0

    @property
    def context(self) -> SpanContext:
        return SpanContext(self.trace_id, self.span_id, self.sampled)

    @property
    def traceparent(self) -> str:
        return f"00-{self.trace_id}-{self.span_id}-{'01' if self.sampled else '00'}"

    def set_error(self, message: str) -> None:
        self.status_code = STATUS_CODE_ERROR
        self.status_message = message

    def add_link(self, context: SpanContext) -> None:
        """Relate this span to a span of another trace it works for, which cannot be its parent (a batch message's
        consumer span to each event's job trace)."""
        if len(self.links) < MAX_LINKS:
            self.links.append(context)
        else:
            self.dropped_links += 1


_current_span: contextvars.ContextVar[Span | None] = contextvars.ContextVar("current_span", default=None)


def current_span() -> Span | None:
    return _current_span.get()


def current_trace_id() -> str | None:
    span = _current_span.get()
    return span.trace_id if span else None


def use_span(span: Span | None) -> contextvars.Token[Span | None]:
    """Make `span` current (for code that cannot use a `with` block); undo with `reset_span(token)`."""
    return _current_span.set(span)


def reset_span(token: contextvars.Token[Span | None]) -> None:
    _current_span.reset(token)


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
    """Creates spans; only sampled, recorded spans reach the exporter. `sampler` decides whether a span is sampled
    (without one: a root span is, a child follows its parent's flags, as `parentbased_always_on`)."""

    def __init__(self, exporter: SpanExporter | None = None, sampler: Sampler | None = None) -> None:
        self.exporter = exporter
        self.sampler = sampler

    def start_span(
        self,
        name: str,
        kind: int = SPAN_KIND_INTERNAL,
        *,
        parent: SpanContext | None = None,
        attributes: Mapping[str, AttributeValue] | None = None,
        record: bool = True,
    ) -> Span:
        """Start a span under `parent`, else under the current span, else as a new trace's root."""
        if parent is None:
            current = _current_span.get()
            parent = current.context if current else None
        trace_id = parent.trace_id if parent else _random_hex(16)
        if self.sampler is not None:
            sampled = self.sampler.should_sample(trace_id, parent)
        else:
            sampled = parent.sampled if parent else True
        return Span(
            name=name,
            kind=kind,
            trace_id=trace_id,
            span_id=_random_hex(8),
            parent_span_id=parent.span_id if parent else None,
            sampled=sampled,
            start_time_ns=time.time_ns(),
            attributes=dict(attributes or {}),
            recorded=record,
        )

    def end_span(self, span: Span) -> None:
        span.end_time_ns = time.time_ns()
        if span.sampled and span.recorded and self.exporter is not None:
            self.exporter.export(span)

    @contextmanager
    def start_as_current_span(
        self,
        name: str,
        kind: int = SPAN_KIND_INTERNAL,
        *,
        parent: SpanContext | None = None,
        attributes: Mapping[str, AttributeValue] | None = None,
        record: bool = True,
    ) -> Iterator[Span]:
        span = self.start_span(name, kind, parent=parent, attributes=attributes, record=record)
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

"""OTLP/HTTP with JSON bodies (the protobuf JSON mapping: camelCase fields, 64-bit integers and nanosecond times as
strings, ids as hex), shared by the three signals: one sender, and one bounded batching queue that spans and log
records go through. Telemetry never blocks the caller and never raises into it: a full queue drops its oldest item
and counts it, a failed post is counted and logged at most once a minute."""

from __future__ import annotations

import atexit
import json
import logging
import threading
import time
import urllib.parse
import urllib.request
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Generic, TypeVar

from app.core.telemetry.tracing import STATUS_CODE_UNSET, AttributeValue, Span

logger = logging.getLogger(__name__)

INSTRUMENTATION_SCOPE = "python-inference"

T = TypeVar("T")


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


def signal_url(endpoint: str, signal: str) -> str:
    """OTEL_EXPORTER_OTLP_ENDPOINT is a base: `/v1/<signal>` is appended (once)."""
    base = endpoint.rstrip("/")
    suffix = f"/v1/{signal}"
    return base if base.endswith(suffix) else f"{base}{suffix}"


def traces_url(endpoint: str) -> str:
    return signal_url(endpoint, "traces")


def encode_value(value: AttributeValue) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}  # int64 is a string in the protobuf JSON mapping
    if isinstance(value, float):
        return {"doubleValue": value}
    return {"stringValue": str(value)}


def encode_attributes(attributes: Mapping[str, AttributeValue]) -> list[dict[str, Any]]:
    return [{"key": key, "value": encode_value(value)} for key, value in attributes.items()]


def encode_resource(attributes: Mapping[str, AttributeValue]) -> dict[str, Any]:
    return {"attributes": encode_attributes(attributes)}


def encode_spans(spans: Sequence[Span], resource_attributes: Mapping[str, AttributeValue]) -> dict[str, Any]:
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
            "attributes": encode_attributes(span.attributes),
            "status": {"code": span.status_code, "message": span.status_message}
            if span.status_code != STATUS_CODE_UNSET
            else {},
        }
        if span.parent_span_id:
            item["parentSpanId"] = span.parent_span_id
        if span.links:
            item["links"] = [{"traceId": link.trace_id, "spanId": link.span_id} for link in span.links]
        if span.dropped_links:
            item["droppedLinksCount"] = span.dropped_links
        encoded.append(item)
    return {
        "resourceSpans": [
            {
                "resource": encode_resource(resource_attributes),
                "scopeSpans": [{"scope": {"name": INSTRUMENTATION_SCOPE}, "spans": encoded}],
            }
        ]
    }


class OtlpHttpSender:
    """Posts one JSON body to one signal's URL; failures are counted and reported at most once a minute."""

    ERROR_LOG_INTERVAL_S = 60.0

    def __init__(self, url: str, *, headers: Mapping[str, str] | None = None, timeout_s: float = 5.0) -> None:
        self.url = url
        self.headers = {**(headers or {}), "Content-Type": "application/json"}
        self.timeout_s = timeout_s
        self.failures = 0
        self._last_report = float("-inf")

    def post(self, body: Mapping[str, Any], what: str, *, dropped: int = 0) -> bool:
        data = json.dumps(body, separators=(",", ":")).encode("utf-8")
        request = urllib.request.Request(self.url, data=data, headers=self.headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                response.read()
            return True
        except Exception as error:  # noqa: BLE001 - telemetry must never take the service down
            self.failures += 1
            now = time.monotonic()
            if now - self._last_report >= self.ERROR_LOG_INTERVAL_S:
                self._last_report = now
                logger.warning(
                    "OTLP %s export to %s failed (%d failed batches, %d dropped %s so far): %s",
                    what,
                    self.url,
                    self.failures,
                    dropped,
                    what,
                    error,
                )
            return False


class OtlpJsonExporter(Generic[T]):
    """Items (spans, log records) wait in a bounded queue, off the caller's path; a daemon thread posts them in
    batches every `flush_interval_s` or as soon as a batch is full. A full queue drops its oldest item (counted in
    `dropped`): memory stays bounded and callers never wait, whether or not the collector answers."""

    def __init__(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        resource_attributes: Mapping[str, AttributeValue] | None = None,
        encode: Callable[[Sequence[T], Mapping[str, AttributeValue]], dict[str, Any]] = encode_spans,  # type: ignore[assignment]
        signal: str = "spans",
        max_queue_size: int = 2048,
        max_batch_size: int = 256,
        flush_interval_s: float = 1.0,
        request_timeout_s: float = 5.0,
    ) -> None:
        self.sender = OtlpHttpSender(url, headers=headers, timeout_s=request_timeout_s)
        self.resource_attributes = dict(resource_attributes or {})
        self.signal = signal
        self._encode = encode
        self._max_batch_size = max_batch_size
        self._flush_interval_s = flush_interval_s
        self._queue: deque[T] = deque(maxlen=max_queue_size)
        self._condition = threading.Condition()
        self._enqueued = 0  # items accepted so far
        self._settled = 0  # items sent, failed or dropped so far
        self._flush_target = 0
        self._stopping = False
        self._thread: threading.Thread | None = None
        self.dropped = 0

    @property
    def url(self) -> str:
        return self.sender.url

    @property
    def headers(self) -> dict[str, str]:
        return self.sender.headers

    def export(self, item: T) -> None:
        with self._condition:
            if self._stopping:
                return
            if len(self._queue) == self._queue.maxlen:
                self._settled += 1  # the oldest item falls out of the deque below
                self.dropped += 1
            self._queue.append(item)
            self._enqueued += 1
            if len(self._queue) >= self._max_batch_size:
                self._condition.notify_all()
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=f"otlp-{self.signal}-exporter", daemon=True)
                self._thread.start()
                atexit.register(self.shutdown)

    def force_flush(self, timeout: float = 5.0) -> bool:
        """Wait until every item exported before this call has been sent (or given up on)."""
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
                self.sender.post(self._encode(batch, self.resource_attributes), self.signal, dropped=self.dropped)
            with self._condition:
                self._settled += len(batch)
                self._condition.notify_all()

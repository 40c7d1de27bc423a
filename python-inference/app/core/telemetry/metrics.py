"""Metrics without the OpenTelemetry SDK: counters and explicit-bucket histograms aggregated in memory (cumulative, one
series per attribute set), and a daemon thread that posts them as OTLP/HTTP JSON every OTEL_METRIC_EXPORT_INTERVAL.
Recording is a dictionary update under a lock: no I/O on the caller's path."""

from __future__ import annotations

import atexit
import bisect
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from app.core.telemetry.otlp import INSTRUMENTATION_SCOPE, OtlpHttpSender, encode_attributes, encode_resource
from app.core.telemetry.tracing import AttributeValue

AGGREGATION_TEMPORALITY_CUMULATIVE = 2

Attributes = Mapping[str, AttributeValue]
_SeriesKey = tuple[tuple[str, AttributeValue], ...]


def _key(attributes: Attributes | None) -> _SeriesKey:
    return tuple(sorted((attributes or {}).items()))


@dataclass
class _HistogramPoint:
    bucket_counts: list[int]
    count: int = 0
    sum: float = 0.0
    min: float = float("inf")
    max: float = float("-inf")


class Counter:
    """A monotonic sum (OTLP `sum`, isMonotonic)."""

    def __init__(self, name: str, unit: str, description: str) -> None:
        self.name, self.unit, self.description = name, unit, description
        self._lock = threading.Lock()
        self._values: dict[_SeriesKey, int] = {}

    def add(self, amount: int, attributes: Attributes | None = None) -> None:
        if amount < 0:
            raise ValueError("a counter only goes up")
        key = _key(attributes)
        with self._lock:
            self._values[key] = self._values.get(key, 0) + amount

    def value(self, attributes: Attributes | None = None) -> int:
        with self._lock:
            return self._values.get(_key(attributes), 0)

    def snapshot(self) -> dict[_SeriesKey, int]:
        with self._lock:
            return dict(self._values)

    def encode(self, start_ns: int, now_ns: int) -> dict[str, Any] | None:
        points = [
            {
                "attributes": encode_attributes(dict(key)),
                "startTimeUnixNano": str(start_ns),
                "timeUnixNano": str(now_ns),
                "asInt": str(value),
            }
            for key, value in self.snapshot().items()
        ]
        if not points:
            return None
        return {
            "name": self.name,
            "description": self.description,
            "unit": self.unit,
            "sum": {
                "aggregationTemporality": AGGREGATION_TEMPORALITY_CUMULATIVE,
                "isMonotonic": True,
                "dataPoints": points,
            },
        }


class Histogram:
    """An explicit-bucket histogram: bucket i counts values in (bounds[i-1], bounds[i]]; the last, above every bound."""

    def __init__(self, name: str, unit: str, description: str, bounds: Sequence[float]) -> None:
        if list(bounds) != sorted(set(bounds)):
            raise ValueError("bucket bounds must increase")
        self.name, self.unit, self.description = name, unit, description
        self.bounds = list(bounds)
        self._lock = threading.Lock()
        self._points: dict[_SeriesKey, _HistogramPoint] = {}

    def record(self, value: float, attributes: Attributes | None = None) -> None:
        key = _key(attributes)
        index = bisect.bisect_left(self.bounds, value)
        with self._lock:
            point = self._points.get(key)
            if point is None:
                point = self._points[key] = _HistogramPoint([0] * (len(self.bounds) + 1))
            point.bucket_counts[index] += 1
            point.count += 1
            point.sum += value
            point.min = min(point.min, value)
            point.max = max(point.max, value)

    def count(self, attributes: Attributes | None = None) -> int:
        with self._lock:
            point = self._points.get(_key(attributes))
            return point.count if point else 0

    def snapshot(self) -> dict[_SeriesKey, _HistogramPoint]:
        with self._lock:
            return {
                key: _HistogramPoint(list(p.bucket_counts), p.count, p.sum, p.min, p.max)
                for key, p in self._points.items()
            }

    def encode(self, start_ns: int, now_ns: int) -> dict[str, Any] | None:
        points = [
            {
                "attributes": encode_attributes(dict(key)),
                "startTimeUnixNano": str(start_ns),
                "timeUnixNano": str(now_ns),
                "count": str(point.count),
                "sum": point.sum,
                "bucketCounts": [str(count) for count in point.bucket_counts],
                "explicitBounds": self.bounds,
                "min": point.min,
                "max": point.max,
            }
            for key, point in self.snapshot().items()
        ]
        if not points:
            return None
        return {
            "name": self.name,
            "description": self.description,
            "unit": self.unit,
            "histogram": {"aggregationTemporality": AGGREGATION_TEMPORALITY_CUMULATIVE, "dataPoints": points},
        }


@dataclass
class Meter:
    """The instruments of one instrumentation scope; cumulative since `start_time_ns`."""

    name: str = INSTRUMENTATION_SCOPE
    version: str = ""
    start_time_ns: int = field(default_factory=time.time_ns)
    instruments: dict[str, Counter | Histogram] = field(default_factory=dict)

    def counter(self, name: str, *, unit: str, description: str) -> Counter:
        return self._add(Counter(name, unit, description))

    def histogram(self, name: str, *, unit: str, description: str, bounds: Sequence[float]) -> Histogram:
        return self._add(Histogram(name, unit, description, bounds))

    def _add(self, instrument: Any) -> Any:
        if instrument.name in self.instruments:
            raise ValueError(f"instrument {instrument.name} exists already")
        self.instruments[instrument.name] = instrument
        return instrument


def encode_metrics(meter: Meter, resource_attributes: Attributes, now_ns: int | None = None) -> dict[str, Any]:
    """The OTLP JSON body of an ExportMetricsServiceRequest; instruments nothing was recorded on are left out."""
    now = now_ns or time.time_ns()
    metrics = [
        encoded
        for instrument in meter.instruments.values()
        if (encoded := instrument.encode(meter.start_time_ns, now)) is not None
    ]
    scope: dict[str, Any] = {"name": meter.name}
    if meter.version:
        scope["version"] = meter.version
    return {
        "resourceMetrics": [
            {"resource": encode_resource(resource_attributes), "scopeMetrics": [{"scope": scope, "metrics": metrics}]}
        ]
    }


class PeriodicMetricExporter:
    """Posts the meter's cumulative state every `interval_s` from a daemon thread, and once more at shutdown."""

    def __init__(self, meter: Meter, sender: OtlpHttpSender, resource_attributes: Attributes, interval_s: float) -> None:
        self.meter = meter
        self.sender = sender
        self.resource_attributes = dict(resource_attributes)
        self.interval_s = interval_s
        self.exports = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="otlp-metrics-exporter", daemon=True)

    def start(self) -> None:
        self._thread.start()
        atexit.register(self.shutdown)

    def export_now(self) -> bool:
        body = encode_metrics(self.meter, self.resource_attributes)
        if not body["resourceMetrics"][0]["scopeMetrics"][0]["metrics"]:
            return True
        self.exports += 1
        return self.sender.post(body, "metrics")

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.export_now()

    def shutdown(self, timeout: float = 5.0) -> None:
        if self._stop.is_set():
            return
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
            self.export_now()
        atexit.unregister(self.shutdown)

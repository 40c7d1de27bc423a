"""Wiring from settings: with OTEL_EXPORTER_OTLP_ENDPOINT (which Aspire injects, with the key in
OTEL_EXPORTER_OTLP_HEADERS) traces, logs and metrics are exported as OTLP/HTTP JSON; without it spans only carry
ids and nothing leaves the process."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from app.core.config import Settings
from app.core.telemetry import instruments
from app.core.telemetry.logs import OtlpLogHandler, encode_logs, install_log_handler, uninstall_log_handler
from app.core.telemetry.metrics import PeriodicMetricExporter
from app.core.telemetry.otlp import OtlpHttpSender, OtlpJsonExporter, encode_spans, parse_key_values, signal_url
from app.core.telemetry.sampling import sampler_from
from app.core.telemetry.tracing import AttributeValue, Tracer

logger = logging.getLogger(__name__)

# The meter is process-wide, so is its export: a second app in one process (tests) replaces the first one's.
_active_metrics: PeriodicMetricExporter | None = None


@dataclass
class Telemetry:
    tracer: Tracer
    log_handler: OtlpLogHandler | None = None
    metrics: PeriodicMetricExporter | None = None

    def shutdown(self, timeout: float = 5.0) -> None:
        self.tracer.shutdown(timeout)
        if self.metrics is not None:
            self.metrics.shutdown(timeout)
        if self.log_handler is not None:
            uninstall_log_handler(self.log_handler)


def _export_config(settings: Settings) -> tuple[str, dict[str, str], dict[str, AttributeValue]] | None:
    endpoint = settings.OTEL_EXPORTER_OTLP_ENDPOINT
    if not endpoint:
        return None
    protocol = (settings.OTEL_EXPORTER_OTLP_PROTOCOL or "http/json").lower()
    if protocol == "grpc":
        logger.warning("OTEL_EXPORTER_OTLP_PROTOCOL=grpc is not supported (only http/json); telemetry is not exported")
        return None
    resource: dict[str, AttributeValue] = {**parse_key_values(settings.OTEL_RESOURCE_ATTRIBUTES)}
    resource["service.name"] = settings.OTEL_SERVICE_NAME
    resource.setdefault("telemetry.sdk.language", "python")
    resource.setdefault("telemetry.sdk.name", "python-inference")
    return endpoint, parse_key_values(settings.OTEL_EXPORTER_OTLP_HEADERS), resource


def create_tracer(settings: Settings) -> Tracer:
    """A tracer that samples as OTEL_TRACES_SAMPLER says and exports when OTEL_EXPORTER_OTLP_ENDPOINT is set;
    otherwise spans only carry ids (and the sampling decision, for the services this one calls)."""
    sampler = sampler_from(settings.OTEL_TRACES_SAMPLER, settings.OTEL_TRACES_SAMPLER_ARG)
    config = _export_config(settings)
    if config is None:
        return Tracer(sampler=sampler)
    endpoint, headers, resource = config
    return Tracer(_queued_exporter(endpoint, headers, resource, "traces", encode_spans,
                                   settings.OTEL_BSP_MAX_QUEUE_SIZE, settings.OTEL_BSP_SCHEDULE_DELAY), sampler)


def _queued_exporter(
    endpoint: str,
    headers: dict[str, str],
    resource: dict[str, AttributeValue],
    path: str,
    encode: Callable[[Sequence[Any], Mapping[str, AttributeValue]], dict[str, Any]],
    max_queue_size: int,
    schedule_delay_ms: float,
) -> OtlpJsonExporter:
    """Spans and log records share one exporter shape: a bounded queue, posted in batches to `<endpoint>/v1/<path>`."""
    return OtlpJsonExporter(
        signal_url(endpoint, path),
        headers=headers,
        resource_attributes=resource,
        encode=encode,
        signal="spans" if path == "traces" else path,
        max_queue_size=max_queue_size,
        flush_interval_s=schedule_delay_ms / 1000,
    )


def create_telemetry(settings: Settings, *, start_metrics: bool = True) -> Telemetry:
    """The tracer, and (when exporting) the `app` loggers' OTLP handler and the periodic metrics export."""
    tracer = create_tracer(settings)
    config = _export_config(settings)
    if config is None:
        return Telemetry(tracer)
    endpoint, headers, resource = config
    log_exporter = _queued_exporter(endpoint, headers, resource, "logs", encode_logs,
                                    settings.OTEL_BLRP_MAX_QUEUE_SIZE, settings.OTEL_BLRP_SCHEDULE_DELAY)
    handler = OtlpLogHandler(log_exporter)
    install_log_handler(handler)
    metrics = PeriodicMetricExporter(
        instruments.meter,
        OtlpHttpSender(signal_url(endpoint, "metrics"), headers=headers),
        resource,
        interval_s=settings.OTEL_METRIC_EXPORT_INTERVAL / 1000,
    )
    global _active_metrics
    if _active_metrics is not None:
        _active_metrics.shutdown(1.0)
    _active_metrics = metrics
    if start_metrics:
        metrics.start()
    return Telemetry(tracer, handler, metrics)

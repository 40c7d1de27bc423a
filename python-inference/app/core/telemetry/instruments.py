"""The service's metrics, one process-wide meter (as OpenTelemetry's global MeterProvider is): names, units and
attributes after OpenTelemetry's semantic conventions v1.27.0 (HTTP: stable; RPC and messaging: development), the
model metrics under the product's own `inference.` prefix."""

from __future__ import annotations

from app.core.telemetry.metrics import Meter

SEMCONV_VERSION = "1.27.0"

meter = Meter()

# Bucket bounds as the conventions advise for each instrument.
_SECONDS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0]
_MILLISECONDS = [0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000]
# A model call takes well under a millisecond to a few hundred.
_MODEL_SECONDS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5]
_BATCH_SIZES = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000]

# http.request.method, http.route (when a route matched), http.response.status_code, url.scheme, error.type (5xx).
HTTP_SERVER_REQUEST_DURATION = meter.histogram(
    "http.server.request.duration", unit="s", description="Duration of HTTP server requests.", bounds=_SECONDS
)
# rpc.system=grpc, rpc.service, rpc.method, rpc.grpc.status_code.
RPC_SERVER_DURATION = meter.histogram(
    "rpc.server.duration", unit="ms", description="Measures the duration of inbound RPC.", bounds=_MILLISECONDS
)
# model.name, model.version: one measurement per call of a model (a batch, or a stream's chunk).
MODEL_DURATION = meter.histogram(
    "inference.model.duration",
    unit="s",
    description="Time a model took to predict one batch of inputs.",
    bounds=_MODEL_SECONDS,
)
MODEL_BATCH_SIZE = meter.histogram(
    "inference.model.batch_size",
    unit="{input}",
    description="Inputs per model call.",
    bounds=_BATCH_SIZES,
)
# messaging.system=rabbitmq, messaging.operation.name, messaging.destination.name, error.type (not confirmed).
MESSAGING_SENT = meter.counter(
    "messaging.client.sent.messages",
    unit="{message}",
    description="Number of messages producer attempted to send to the broker.",
)
MESSAGING_CONSUMED = meter.counter(
    "messaging.client.consumed.messages",
    unit="{message}",
    description="Number of messages that were delivered to the application.",
)

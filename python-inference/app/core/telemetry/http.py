"""HTTP server telemetry as pure ASGI middleware: one SERVER span per request (continuing the caller's `traceparent`,
answered with `traceparent` and `X-Trace-Id` headers) and the `http.server.request.duration` histogram. Health and
liveness probes get ids (so their answers still quote a trace) but no exported span, as the C# services do."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.telemetry import instruments
from app.core.telemetry.tracing import SPAN_KIND_SERVER, AttributeValue, Tracer, parse_traceparent, reset_span, use_span

logger = logging.getLogger(__name__)

# Asked every few seconds by Aspire and by orchestrators: traces of them would bury the real ones.
PROBE_PATHS = ("/health", "/alive")


def is_probe(path: str) -> bool:
    return any(path == probe or path.startswith(probe + "/") for probe in PROBE_PATHS)


class TelemetryMiddleware:
    """It also turns an unhandled exception into `error_response` itself, so that the 500 response
    still carries the trace headers and its body can quote the trace id."""

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
        started = time.perf_counter()
        headers = Headers(scope=scope)
        method: str = scope["method"]
        host, port = _split_host(headers.get("host") or "")
        scheme = scope.get("scheme", "http")
        attributes: dict[str, AttributeValue] = {
            "http.request.method": method,
            "url.path": scope["path"],
            "url.scheme": scheme,
            "server.address": host or (scope.get("server") or ("",))[0],
        }
        if port is not None:
            attributes["server.port"] = port
        span = self.tracer.start_span(
            method,
            SPAN_KIND_SERVER,
            parent=parse_traceparent(headers.get("traceparent")),
            attributes=attributes,
            record=not is_probe(scope["path"]),
        )
        token = use_span(span)
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
            reset_span(token)
            self.tracer.end_span(span)
            _record_duration(time.perf_counter() - started, method, scheme, route, status_code, span.attributes)


def _record_duration(
    seconds: float,
    method: str,
    scheme: str,
    route: str | None,
    status_code: int | None,
    span_attributes: dict[str, AttributeValue],
) -> None:
    attributes: dict[str, AttributeValue] = {"http.request.method": method, "url.scheme": scheme}
    if route:
        attributes["http.route"] = route
    if status_code is not None:
        attributes["http.response.status_code"] = status_code
    if status_code is None or status_code >= 500:
        attributes["error.type"] = span_attributes.get("error.type", str(status_code or 500))
    instruments.HTTP_SERVER_REQUEST_DURATION.record(seconds, attributes)


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

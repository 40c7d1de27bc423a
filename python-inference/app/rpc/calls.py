"""What every gRPC method shares, as a decorator: a SERVER span that continues the caller's `traceparent`
(gRPC metadata, as HTTP headers are for TelemetryMiddleware) and the mapping of raised problems onto a status."""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncIterator, Callable
from typing import Any, Protocol

import grpc

from app.core.telemetry import SPAN_KIND_SERVER, Span, SpanContext, Tracer, parse_traceparent
from app.rpc.errors import RpcProblem, abort, to_rpc_problem


class HasTracer(Protocol):
    tracer: Tracer


def rpc_method(service: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Wrap an async unary method or an async-generator streaming method of a servicer of `service`."""

    def decorate(method: Callable[..., Any]) -> Callable[..., Any]:
        name = f"{service}/{method.__name__}"
        attributes = {"rpc.system": "grpc", "rpc.service": service, "rpc.method": method.__name__}

        if inspect.isasyncgenfunction(method):

            @functools.wraps(method)
            async def streaming(self: HasTracer, request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
                problem: RpcProblem | None = None
                with self.tracer.start_as_current_span(
                    name, SPAN_KIND_SERVER, parent=_caller(context), attributes=attributes
                ) as span:
                    try:
                        async for response in method(self, request, context):
                            yield response
                        span.attributes["rpc.grpc.status_code"] = grpc.StatusCode.OK.value[0]
                    except Exception as error:  # noqa: BLE001 - every failure becomes a status
                        problem = _problem(span, error)
                if problem is not None:
                    await abort(context, problem)

            return streaming

        @functools.wraps(method)
        async def unary(self: HasTracer, request: Any, context: grpc.aio.ServicerContext) -> Any:
            problem: RpcProblem | None = None
            with self.tracer.start_as_current_span(
                name, SPAN_KIND_SERVER, parent=_caller(context), attributes=attributes
            ) as span:
                try:
                    response = await method(self, request, context)
                    span.attributes["rpc.grpc.status_code"] = grpc.StatusCode.OK.value[0]
                    return response
                except Exception as error:  # noqa: BLE001 - every failure becomes a status
                    problem = _problem(span, error)
            await abort(context, problem)

        return unary

    return decorate


def _caller(context: grpc.aio.ServicerContext) -> SpanContext | None:
    for key, value in context.invocation_metadata() or ():
        if key == "traceparent" and isinstance(value, str):
            return parse_traceparent(value)
    return None


def _problem(span: Span, error: Exception) -> RpcProblem:
    problem = to_rpc_problem(error)
    span.attributes["rpc.grpc.status_code"] = problem.status.value[0]
    if problem.status is grpc.StatusCode.INTERNAL:
        span.attributes["error.type"] = type(error).__qualname__
    if problem.status in (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNAVAILABLE):
        span.set_error(problem.status.name)
    return problem

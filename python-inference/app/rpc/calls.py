"""What every gRPC method shares, as a decorator: a SERVER span that continues the caller's `traceparent`
(gRPC metadata, as HTTP headers are for TelemetryMiddleware), a bound on the calls in progress (`CallLimit`), the
`rpc.server.duration` measurement and the mapping of raised problems onto a status. grpc.health.v1
(app/rpc/health.py) is not decorated: probes leave no spans and are never refused."""

from __future__ import annotations

import contextlib
import functools
import inspect
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, Protocol

import grpc

from app.core.telemetry import (
    SPAN_KIND_SERVER,
    Span,
    SpanContext,
    Tracer,
    current_trace_id,
    instruments,
    parse_traceparent,
)
from app.core.problems import ProblemError, overloaded, validation_failed
from app.rpc.errors import RpcProblem, abort, to_rpc_problem


class UndecodableRequest:
    """What a method receives instead of its request message when the bytes sent do not decode as one."""


UNDECODABLE = UndecodableRequest()


def tolerant_deserializer(deserialize: Callable[[bytes], Any] | None) -> Callable[[bytes], Any] | None:
    """grpcio answers a request its deserializer cannot read with INTERNAL; this one hands the method a marker
    instead, which @rpc_method answers as INVALID_ARGUMENT `validation_failed`: bad bytes are the caller's error."""
    if deserialize is None:
        return None

    def read(data: bytes) -> Any:
        try:
            return deserialize(data)
        except Exception:  # noqa: BLE001 - DecodeError, or invalid UTF-8 in a string field
            return UNDECODABLE

    return read


class TolerantHandlers(grpc.GenericRpcHandler):
    """The generated handlers of a service, each with a `tolerant_deserializer`."""

    def __init__(self, handlers: grpc.GenericRpcHandler) -> None:
        self._handlers = handlers

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        handler = self._handlers.service(handler_call_details)
        if handler is None:
            return None
        return handler._replace(request_deserializer=tolerant_deserializer(handler.request_deserializer))


def _undecodable() -> ProblemError:
    return validation_failed({"request": ["is not a valid protobuf message of this method's request type"]})


class CallLimit:
    """The calls of a service in progress, bounded (GRPC_MAX_CONCURRENT_RPCS): beyond the bound a call is answered at
    once with UNAVAILABLE, problem code `overloaded` and `retry-after`, the problem app/api/concurrency.py answers over
    HTTP, so a caller sees the same 503 over either transport (grpcio's own bound answers RESOURCE_EXHAUSTED without a
    word of why; app/rpc/server.py keeps it only as a backstop)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.in_progress = 0  # touched on the event loop only

    @contextlib.contextmanager
    def taken(self) -> Iterator[ProblemError | None]:
        """A place for one call while the block runs, or (None taken) the refusal to answer it with."""
        if self.in_progress >= self.limit:
            yield overloaded(self.limit)
            return
        self.in_progress += 1
        try:
            yield None
        finally:
            self.in_progress -= 1


class HasTracer(Protocol):
    tracer: Tracer
    calls: CallLimit


def rpc_method(service: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Wrap an async unary method or an async-generator streaming method of a servicer of `service`."""

    def decorate(method: Callable[..., Any]) -> Callable[..., Any]:
        name = f"{service}/{method.__name__}"
        attributes = {"rpc.system": "grpc", "rpc.service": service, "rpc.method": method.__name__}

        if inspect.isasyncgenfunction(method):

            @functools.wraps(method)
            async def streaming(self: HasTracer, request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
                with _served(self, name, attributes, context) as call:
                    call.admit(request)
                    async for response in method(self, request, context):
                        yield response
                if call.problem is not None:
                    await abort(context, call.problem)

            return streaming

        @functools.wraps(method)
        async def unary(self: HasTracer, request: Any, context: grpc.aio.ServicerContext) -> Any:
            with _served(self, name, attributes, context) as call:
                call.admit(request)
                response = await method(self, request, context)
            if call.problem is None:
                return response
            await abort(context, call.problem)

        return unary

    return decorate


class _Call:
    """One call in progress: the refusal to answer it with when it took no place, then the problem it ended with."""

    __slots__ = ("refusal", "problem")

    def __init__(self, refusal: ProblemError | None) -> None:
        self.refusal = refusal
        self.problem: RpcProblem | None = None

    def admit(self, request: Any) -> None:
        """Raise why the call is not served: no place under the bound, or bytes that are no request."""
        if self.refusal is not None:
            raise self.refusal
        if request is UNDECODABLE:
            raise _undecodable()


@contextlib.contextmanager
def _served(
    servicer: HasTracer, name: str, attributes: dict[str, Any], context: grpc.aio.ServicerContext
) -> Iterator[_Call]:
    """The call's SERVER span and place under the bound around the block. Whatever the block raises (an Exception)
    becomes `problem`, for the caller to abort with once the span has ended; the duration is recorded whether the call
    succeeded or not. A cancelled call (CancelledError, GeneratorExit) passes through, unrecorded."""
    started = time.perf_counter()
    with servicer.tracer.start_as_current_span(
        name, SPAN_KIND_SERVER, parent=_caller(context), attributes=attributes
    ) as span, servicer.calls.taken() as refusal:
        call = _Call(refusal)
        try:
            yield call
            span.attributes["rpc.grpc.status_code"] = grpc.StatusCode.OK.value[0]
        except Exception as error:  # noqa: BLE001 - every failure becomes a status
            call.problem = _problem(span, error, refusal)
    _record_duration(started, span)


_METRIC_ATTRIBUTES = ("rpc.system", "rpc.service", "rpc.method", "rpc.grpc.status_code")


def _record_duration(started: float, span: Span) -> None:
    """In milliseconds, as semantic conventions 1.27 define rpc.server.duration (a stream: its whole length)."""
    attributes = {key: span.attributes[key] for key in _METRIC_ATTRIBUTES if key in span.attributes}
    instruments.RPC_SERVER_DURATION.record((time.perf_counter() - started) * 1000, attributes)


def _caller(context: grpc.aio.ServicerContext) -> SpanContext | None:
    for key, value in context.invocation_metadata() or ():
        if key == "traceparent" and isinstance(value, str):
            return parse_traceparent(value)
    return None


def _problem(span: Span, error: Exception, refusal: ProblemError | None = None) -> RpcProblem:
    if error is refusal:
        # The refusal of a call over the bound: no log line (an overload would write thousands), as over HTTP.
        problem = RpcProblem(grpc.StatusCode.UNAVAILABLE, refusal.code, refusal.detail, trace_id=current_trace_id(),
                             retry_after_s=refusal.retry_after_s)
    else:
        problem = to_rpc_problem(error)
    span.attributes["rpc.grpc.status_code"] = problem.status.value[0]
    if problem.status is grpc.StatusCode.INTERNAL:
        span.attributes["error.type"] = type(error).__qualname__
    if problem.status in (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNAVAILABLE):
        span.set_error(problem.status.name)
    return problem

"""The one place where this service's problems (app/core/problems.py) become gRPC statuses, as app/api/errors.py
makes them HTTP problem details:

    validation_failed, batch_too_large -> INVALID_ARGUMENT   model_not_found -> NOT_FOUND
    not_ready, overloaded -> UNAVAILABLE                     anything unexpected -> INTERNAL (no internals)

The status message is the problem's `detail`. Trailing metadata carries the stable problem code (`problem-code`),
the trace id (`x-trace-id`), when to try again in whole seconds (`retry-after`, as HTTP's header, when the problem
says) and, as `grpc-status-details-bin`, a google.rpc.Status whose details hold a google.rpc.BadRequest with one
field violation per message of the problem's `errors`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import NoReturn

import grpc

from app.core.problems import INTERNAL_ERROR, INTERNAL_ERROR_DETAIL, ProblemError
from app.core.telemetry import current_trace_id
from app.rpc.stubs import error_details_pb2, status_pb2

logger = logging.getLogger(__name__)

PROBLEM_CODE_KEY = "problem-code"
TRACE_ID_KEY = "x-trace-id"
RETRY_AFTER_KEY = "retry-after"
STATUS_DETAILS_KEY = "grpc-status-details-bin"

_STATUS_FOR_HTTP = {
    400: grpc.StatusCode.INVALID_ARGUMENT,
    404: grpc.StatusCode.NOT_FOUND,
    503: grpc.StatusCode.UNAVAILABLE,
}


@dataclass(frozen=True)
class RpcProblem:
    """A failed call as the client will see it."""

    status: grpc.StatusCode
    code: str
    message: str
    errors: dict[str, list[str]] | None = None
    trace_id: str | None = None
    retry_after_s: int | None = None

    def trailing_metadata(self) -> tuple[tuple[str, str | bytes], ...]:
        metadata: list[tuple[str, str | bytes]] = [(PROBLEM_CODE_KEY, self.code)]
        if self.trace_id:
            metadata.append((TRACE_ID_KEY, self.trace_id))
        if self.retry_after_s is not None:
            metadata.append((RETRY_AFTER_KEY, str(self.retry_after_s)))
        metadata.append((STATUS_DETAILS_KEY, self.rich_status().SerializeToString()))
        return tuple(metadata)

    def rich_status(self) -> status_pb2.Status:
        status = status_pb2.Status(code=self.status.value[0], message=self.message)
        if self.errors:
            bad_request = error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(field=field, description=description)
                    for field, descriptions in self.errors.items()
                    for description in descriptions
                ]
            )
            status.details.add().Pack(bad_request)  # type URL type.googleapis.com/google.rpc.BadRequest
        return status


def to_rpc_problem(error: Exception) -> RpcProblem:
    """The status for `error`, quoting the current trace; unexpected errors are logged here, with their internals."""
    trace_id = current_trace_id()
    if isinstance(error, ProblemError):
        status = _STATUS_FOR_HTTP.get(error.status, grpc.StatusCode.INTERNAL)
        # One line per problem, in the call's trace, as over HTTP (app/api/errors.py).
        logger.log(
            logging.ERROR if status is grpc.StatusCode.INTERNAL else logging.INFO,
            "problem %s (%s) in a gRPC call: %s",
            error.code,
            status.name,
            error.detail,
            extra={"problem.code": error.code, "rpc.grpc.status_code": status.value[0]},
        )
        return RpcProblem(status, error.code, error.detail, error.errors, trace_id, error.retry_after_s)
    logger.error("unhandled error in a gRPC call", exc_info=error)
    return RpcProblem(grpc.StatusCode.INTERNAL, INTERNAL_ERROR, INTERNAL_ERROR_DETAIL, trace_id=trace_id)


async def abort(context: grpc.aio.ServicerContext, problem: RpcProblem) -> NoReturn:
    """End the call with `problem`: grpc.aio's abort raises, to unwind the servicer."""
    await context.abort(problem.status, problem.message, trailing_metadata=problem.trailing_metadata())
    raise AssertionError("grpc.aio's abort returned")

"""The problems this service answers with, whatever the entrance: app/api/errors.py writes them as RFC 9457
problem details, app/rpc/errors.py as gRPC statuses. `code` is the stable, machine-readable part:

    validation_failed (400)   batch_too_large (400)   model_not_found (404)   not_ready (503)   overloaded (503)
    not_found (404), method_not_allowed (405) and payload_too_large (413), HTTP only
    internal_error (500), anything unexpected

Field paths in `errors` look like `model`, `inputs[2]`, `text`, `input`, `body`.
"""

from __future__ import annotations

VALIDATION_FAILED = "validation_failed"
BATCH_TOO_LARGE = "batch_too_large"
MODEL_NOT_FOUND = "model_not_found"
NOT_READY = "not_ready"
OVERLOADED = "overloaded"
NOT_FOUND = "not_found"
METHOD_NOT_ALLOWED = "method_not_allowed"
PAYLOAD_TOO_LARGE = "payload_too_large"
INTERNAL_ERROR = "internal_error"

INTERNAL_ERROR_DETAIL = "An unexpected error occurred. Quote the traceId when reporting it."


class ProblemError(Exception):
    """Raise from anywhere in a request or call to answer with a problem; `status` is the HTTP status."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        errors: dict[str, list[str]] | None = None,
        retry_after_s: int | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.errors = errors
        # When to try again, in whole seconds: HTTP writes it as `Retry-After` and `retryAfter`, gRPC as `retry-after`.
        self.retry_after_s = retry_after_s


def validation_failed(errors: dict[str, list[str]]) -> ProblemError:
    count = len(errors)
    return ProblemError(
        400,
        VALIDATION_FAILED,
        f"The request has {count} invalid field{'s' if count != 1 else ''}: {', '.join(errors)}.",
        errors=errors,
    )


def batch_too_large(count: int, limit: int) -> ProblemError:
    return ProblemError(400, BATCH_TOO_LARGE, f"A batch holds at most {limit} inputs; this one has {count}.")


def model_not_found(name: str, known: list[str]) -> ProblemError:
    return ProblemError(404, MODEL_NOT_FOUND, f"Unknown model {name!r}. Known models: {', '.join(known) or 'none'}.")


def not_ready() -> ProblemError:
    return ProblemError(503, NOT_READY, "The models are not loaded yet.")


OVERLOADED_RETRY_AFTER_S = 1


def overloaded(limit: int) -> ProblemError:
    return ProblemError(
        503, OVERLOADED, f"{limit} requests are already in progress; retry shortly.",
        retry_after_s=OVERLOADED_RETRY_AFTER_S,
    )

"""Every error response is RFC 9457 problem details (`application/problem+json`):

    {"type": "urn:problem:validation_failed", "title": "Bad Request", "status": 400,
     "detail": "...", "instance": "/v1/predict", "code": "validation_failed",
     "traceId": "<32 hex: the W3C trace id of the request>",
     "errors": {"inputs[2]": ["must be a string, got number"]}}      # only for field errors

`code` is the stable, machine-readable part: validation_failed (400), batch_too_large (400),
model_not_found (404), not_found (404), method_not_allowed (405), not_ready (503),
internal_error (500). Field paths look like `model`, `inputs[2]`, `text`, `body`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response
from starlette.types import Scope

from app.core.telemetry import current_trace_id
from app.ml.registry import ModelNotFoundError
from app.schemas.problem import Problem

PROBLEM_CONTENT_TYPE = "application/problem+json"


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The `responses=` of a route, so its error statuses show the problem shape in OpenAPI."""
    return {status: {"model": Problem, "description": HTTPStatus(status).phrase} for status in statuses}


class ProblemError(Exception):
    """Raise from anywhere in a request to answer with a problem response."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        errors: dict[str, list[str]] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.errors = errors


def validation_failed(errors: dict[str, list[str]]) -> ProblemError:
    count = len(errors)
    return ProblemError(
        400,
        "validation_failed",
        f"The request has {count} invalid field{'s' if count != 1 else ''}: {', '.join(errors)}.",
        errors=errors,
    )


def batch_too_large(count: int, limit: int) -> ProblemError:
    return ProblemError(400, "batch_too_large", f"A batch holds at most {limit} inputs; this one has {count}.")


def not_ready() -> ProblemError:
    return ProblemError(503, "not_ready", "The models are not loaded yet.")


def problem_response(
    instance: str,
    status: int,
    code: str,
    detail: str,
    *,
    errors: dict[str, list[str]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"urn:problem:{code}",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "instance": instance,
        "code": code,
        # Outside the telemetry middleware (never in this app) there is no trace to quote.
        "traceId": current_trace_id() or os.urandom(16).hex(),
    }
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_CONTENT_TYPE)


def internal_error_response(scope: Scope) -> Response:
    """The 500 answer for an unexpected exception: no internals, just the trace id to quote."""
    return problem_response(
        scope["path"],
        500,
        "internal_error",
        "An unexpected error occurred. Quote the traceId when reporting it.",
    )


def field_path(loc: Sequence[str | int]) -> str:
    """("body", "inputs", 2) -> "inputs[2]"; ("query", "text") -> "text"."""
    parts = list(loc[1:] if loc and loc[0] in ("body", "query", "path", "header", "cookie") else loc)
    path = ""
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "body"


def _validation_errors(exc: RequestValidationError) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for error in exc.errors():
        # FastAPI reports unparsable JSON with the character offset as the location.
        if error.get("type") in ("value_error.jsondecode", "json_invalid"):
            path, message = "body", "is not valid JSON"
        else:
            path, message = field_path(error.get("loc", ())), str(error.get("msg", "is invalid"))
        errors.setdefault(path, []).append(message)
    return errors


async def _problem_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ProblemError)
    return problem_response(request.url.path, exc.status, exc.code, exc.detail, errors=exc.errors)


async def _request_validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    problem = validation_failed(_validation_errors(exc))
    return await _problem_error(request, problem)


async def _model_not_found(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ModelNotFoundError)
    detail = f"Unknown model {exc.name!r}. Known models: {', '.join(exc.known) or 'none'}."
    return problem_response(request.url.path, 404, "model_not_found", detail)


_HTTP_CODES = {404: "not_found", 405: "method_not_allowed"}


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    if status == 404:
        detail = f"Nothing at {request.url.path}."
    elif status == 405:
        detail = f"{request.method} is not allowed on {request.url.path}."
    else:
        detail = str(exc.detail)
    code = _HTTP_CODES.get(status, f"http_{status}")
    return problem_response(request.url.path, status, code, detail, headers=getattr(exc, "headers", None))


def register_error_handlers(app: FastAPI) -> None:
    """Handlers for expected errors; unexpected ones are answered by the telemetry middleware."""
    app.add_exception_handler(ProblemError, _problem_error)
    app.add_exception_handler(RequestValidationError, _request_validation_error)
    app.add_exception_handler(ModelNotFoundError, _model_not_found)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    _document_400_instead_of_422(app)


def _document_400_instead_of_422(app: FastAPI) -> None:
    """FastAPI documents a 422 for every route with inputs; this service answers those errors with
    400 `validation_failed` problems (documented per route), so the OpenAPI document drops the 422s."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()  # FastAPI caches the result in app.openapi_schema
            for operations in schema.get("paths", {}).values():
                for operation in operations.values():
                    operation.get("responses", {}).pop("422", None)
            for unused in ("HTTPValidationError", "ValidationError"):
                schema.get("components", {}).get("schemas", {}).pop(unused, None)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

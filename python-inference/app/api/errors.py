"""Every HTTP error response is RFC 9457 problem details (`application/problem+json`):

    {"type": "urn:problem:validation_failed", "title": "Bad Request", "status": 400,
     "detail": "...", "instance": "/v1/predict", "code": "validation_failed",
     "traceId": "<32 hex: the W3C trace id of the request>",
     "errors": {"inputs[2]": ["must be a string, got number"]}}      # only for field errors

The problems and their codes are app/core/problems.py's; this module writes them for HTTP, adds the HTTP-only ones
(not_found, method_not_allowed, unparsable or ill-typed bodies) and documents them in the OpenAPI document.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response
from starlette.types import Scope

from app.core.problems import (
    INTERNAL_ERROR,
    INTERNAL_ERROR_DETAIL,
    METHOD_NOT_ALLOWED,
    NOT_FOUND,
    VALIDATION_FAILED,
    ProblemError,
    validation_failed,
)
from app.core.telemetry import current_trace_id
from app.schemas.problem import Problem

PROBLEM_CONTENT_TYPE = "application/problem+json"

logger = logging.getLogger(__name__)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The `responses=` of a route, so its error statuses show the problem shape in OpenAPI."""
    return {status: {"model": Problem, "description": HTTPStatus(status).phrase} for status in statuses}


def problem_response(
    instance: str,
    status: int,
    code: str,
    detail: str,
    *,
    errors: dict[str, list[str]] | None = None,
    headers: dict[str, str] | None = None,
    retry_after: int | None = None,
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
    if retry_after is not None:
        # The contract's one way to say when to come back: the member, and the header written from it.
        body["retryAfter"] = retry_after
        headers = {**(headers or {}), "Retry-After": str(retry_after)}
    # One line per problem, in the request's trace: the trace id a client quotes finds it in the structured logs.
    logger.log(
        logging.ERROR if status >= 500 else logging.INFO,
        "problem %s (%d) at %s: %s",
        code,
        status,
        instance,
        detail,
        extra={"problem.code": code, "http.response.status_code": status},
    )
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_CONTENT_TYPE)


def internal_error_response(scope: Scope) -> Response:
    """The 500 answer for an unexpected exception: no internals, just the trace id to quote."""
    return problem_response(scope["path"], 500, INTERNAL_ERROR, INTERNAL_ERROR_DETAIL)


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


def problem_error_response(instance: str, error: ProblemError) -> JSONResponse:
    """The answer for a raised (or refused-with) problem: every member it carries, its retry hint included."""
    return problem_response(
        instance, error.status, error.code, error.detail, errors=error.errors, retry_after=error.retry_after_s,
    )


async def _problem_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ProblemError)
    return problem_error_response(request.url.path, exc)


async def _request_validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    problem = validation_failed(_validation_errors(exc))
    return await _problem_error(request, problem)


_HTTP_CODES = {404: NOT_FOUND, 405: METHOD_NOT_ALLOWED}


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    if status == 404:
        detail = f"Nothing at {request.url.path}."
    elif status == 405:
        detail = f"{request.method} is not allowed on {request.url.path}."
    else:
        detail = str(exc.detail)
    if status == 400:
        # Starlette's own 400: a body it could not decode (invalid UTF-8, broken or too deeply nested JSON).
        return problem_response(
            request.url.path,
            400,
            VALIDATION_FAILED,
            "The request has 1 invalid field: body.",
            errors={"body": ["is not valid JSON (or not UTF-8)"]},
        )
    code = _HTTP_CODES.get(status, f"http_{status}")
    return problem_response(request.url.path, status, code, detail, headers=getattr(exc, "headers", None))


def register_error_handlers(app: FastAPI) -> None:
    """Handlers for expected errors; unexpected ones are answered by the telemetry middleware."""
    app.add_exception_handler(ProblemError, _problem_error)
    app.add_exception_handler(RequestValidationError, _request_validation_error)
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

"""python-inference's errors against protos/problem-details.schema.json, the schema the C# tests use too."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.support import INCOMING_TRACE_ID, INCOMING_TRACEPARENT, assert_problem, problem_schema

VALID = {
    "type": "urn:problem:model_not_found",
    "title": "Not Found",
    "status": 404,
    "detail": "No model named 'unicorn'.",
    "instance": "/v1/predict",
    "traceId": INCOMING_TRACE_ID,
    "code": "model_not_found",
}


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        ("post", "/v1/predict", {"model": "sentiment", "inputs": [42]}, 400, "validation_failed"),
        ("post", "/v1/predict", {"model": "sentiment", "inputs": ["x"] * 101}, 400, "batch_too_large"),
        ("post", "/v1/predict", {"model": "unicorn", "inputs": ["x"]}, 404, "model_not_found"),
        ("get", "/v1/nowhere", None, 404, "not_found"),
        ("delete", "/v1/models", None, 405, "method_not_allowed"),
    ],
)
def test_every_kind_of_error_matches_the_shared_problem_schema(
    client: TestClient, method: str, path: str, body: dict[str, Any] | None, status: int, code: str
) -> None:
    response = client.request(method, path, json=body, headers={"traceparent": INCOMING_TRACEPARENT})

    assert_problem(response, status, code, path, trace_id=INCOMING_TRACE_ID)


def test_the_schema_accepts_a_complete_problem() -> None:
    assert list(problem_schema().iter_errors(VALID)) == []


@pytest.mark.parametrize(
    "broken",
    [
        {key: value for key, value in VALID.items() if key != "traceId"},
        {key: value for key, value in VALID.items() if key != "detail"},
        {**VALID, "traceId": "not-a-trace-id"},
        {**VALID, "type": "https://example.com/problem"},
        {**VALID, "status": 200},
        {**VALID, "errors": {"inputs[0]": "a string, not a list"}},
    ],
)
def test_the_schema_rejects_a_problem_missing_or_misshaping_a_member(broken: dict[str, Any]) -> None:
    assert list(problem_schema().iter_errors(broken)) != []

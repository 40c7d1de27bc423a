"""Test helpers: assertions on the RFC 9457 problem responses, an in-memory span exporter, iris rows the served
model never saw in training, and waiting for a condition (on a thread or on the running event loop)."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import httpx
from jsonschema import Draft202012Validator

from app.core.telemetry import Span
from app.ml import iris
from app.ml.training import split

# Rows of iris's held-out 20% (held_out_iris()), one per species, which the served model classifies correctly: a
# right label on them shows a model that generalises, where a training row would only show one that memorised.
SETOSA = [4.6, 3.6, 1.0, 0.2]
VERSICOLOR = [5.6, 2.5, 3.9, 1.1]
VIRGINICA = [6.7, 3.1, 5.6, 2.4]
# The first wine of scikit-learn's wine data set, a class_0 (examples/train_wine.py's model).
FIRST_WINE = [14.23, 1.71, 2.43, 15.6, 127, 2.8, 3.06, 0.28, 2.29, 5.64, 1.04, 3.92, 1065]

TRACE_ID = re.compile(r"^[0-9a-f]{32}$")
# A traceparent a caller (the C# gateway) would send; errors must quote its trace id.
INCOMING_TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
INCOMING_TRACEPARENT = f"00-{INCOMING_TRACE_ID}-00f067aa0ba902b7-01"
# The one description of the error contract, shared with the C# tests.
PROBLEM_SCHEMA_PATH = Path(__file__).resolve().parents[2] / "protos" / "problem-details.schema.json"


def wait_until(condition: Callable[[], object], what: str = "condition", *, timeout: float = 10.0,
               interval: float = 0.05) -> None:
    """Poll `condition` until it holds; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}"
        time.sleep(interval)


async def wait_until_async(condition: Callable[[], object], what: str = "condition", *, timeout: float = 10.0,
                           interval: float = 0.05) -> None:
    """`wait_until` on the running event loop, which keeps running between polls."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, f"timed out after {timeout} s waiting for {what}"
        await asyncio.sleep(interval)


@cache
def problem_schema() -> Draft202012Validator:
    schema = json.loads(PROBLEM_SCHEMA_PATH.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def assert_matches_problem_schema(body: dict[str, Any]) -> None:
    violations = [f"{'/'.join(map(str, error.path)) or '(root)'}: {error.message}"
                  for error in problem_schema().iter_errors(body)]
    assert not violations, f"not a problem of the contract: {violations}"


def assert_problem(
    response: httpx.Response,
    status: int,
    code: str,
    instance: str,
    *,
    trace_id: str | None = None,
) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert_matches_problem_schema(body)
    assert body["type"] == f"urn:problem:{code}"
    assert body["status"] == status
    assert body["code"] == code
    assert body["instance"] == instance
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    assert TRACE_ID.match(body["traceId"]), body["traceId"]
    assert body["traceId"] == response.headers["x-trace-id"]
    if trace_id is not None:
        assert body["traceId"] == trace_id
    return body


class RecordingExporter:
    """Keeps finished spans in memory, in place of the OTLP exporter."""

    def __init__(self) -> None:
        self.spans: list[Span] = []

    def export(self, span: Span) -> None:
        self.spans.append(span)

    def force_flush(self, timeout: float = 5.0) -> bool:
        return True

    def shutdown(self, timeout: float = 5.0) -> None:
        pass



@cache
def iris_split() -> tuple[frozenset[tuple[float, ...]], tuple[tuple[tuple[float, ...], str], ...]]:
    """The iris model's own split (app/ml/training.py's, with iris's parameters): the training rows, and the held-out
    (measurements, species) pairs minus any row that also occurs in training (the data set repeats a few flowers)."""
    features, species = iris.load_data()
    train_x, test_x, _, test_y = split(features, species, iris.TRAINING_PARAMS)
    trained_on = frozenset(tuple(map(float, row)) for row in train_x)
    held_out = tuple(
        (row, str(label)) for row, label in ((tuple(map(float, x)), y) for x, y in zip(test_x, test_y))
        if row not in trained_on
    )
    return trained_on, held_out

"""python-inference's part of the bad-input corpus (tests/corpus/bad-input.json at the repository's root): every
malformed request to its HTTP and gRPC endpoints gets a 4xx problem (or INVALID_ARGUMENT) with a stable code.
The same cases run against the real stack in tests/AppHost.Tests/BadInputCorpusTests.cs."""

from __future__ import annotations

import base64
import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.main import create_app
from app.ml.registry import ModelRegistry
from app.rpc.errors import PROBLEM_CODE_KEY

CORPUS = Path(__file__).resolve().parents[2] / "tests" / "corpus" / "bad-input.json"
CASES: list[dict[str, Any]] = json.loads(CORPUS.read_text(encoding="utf-8"))["cases"]
HTTP_CASES = [case for case in CASES if case["target"] == "python-inference"]
GRPC_CASES = [case for case in CASES if case["target"] == "python-inference-grpc"]


def body_of(case: dict[str, Any]) -> bytes | None:
    if "body" in case:
        return case["body"].encode("utf-8")
    if "bodyBase64" in case:
        return base64.b64decode(case["bodyBase64"])
    if "bodyRepeat" in case:
        repeat = case["bodyRepeat"]
        return (repeat["prefix"] + repeat["repeat"] * repeat["times"] + repeat["suffix"]).encode("utf-8")
    return None


def test_the_corpus_has_python_cases_for_both_entrances() -> None:
    assert len(HTTP_CASES) >= 10
    assert len(GRPC_CASES) >= 3


@pytest.mark.parametrize("case", HTTP_CASES, ids=[case["name"] for case in HTTP_CASES])
def test_http_bad_input_is_a_4xx_problem_with_its_code(client: TestClient, case: dict[str, Any]) -> None:
    body = body_of(case)
    headers = {"content-type": case["contentType"]} if body is not None else {}
    response = client.request(case["method"], case["path"], content=body, headers=headers)

    assert response.status_code == case["expect"]["status"], response.text[:300]
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == case["expect"]["code"]


@pytest.fixture(scope="module")
def grpc_channel(settings: Settings, registry: ModelRegistry) -> Iterator[grpc.Channel]:
    app = create_app(dataclasses.replace(settings, GRPC_PORT=0), ModelRegistry(registry.all_versions()))
    with TestClient(app), grpc.insecure_channel(f"127.0.0.1:{app.state.grpc_server.port}") as channel:
        yield channel


@pytest.mark.parametrize("case", GRPC_CASES, ids=[case["name"] for case in GRPC_CASES])
def test_grpc_bad_input_is_a_client_error_status_with_its_code(grpc_channel: grpc.Channel, case: dict[str, Any]) -> None:
    method = grpc_channel.unary_unary(case["method"])  # raw bytes both ways

    with pytest.raises(grpc.RpcError) as raised:
        method(base64.b64decode(case["messageBase64"]), timeout=10)

    error = raised.value
    expected = {"InvalidArgument": grpc.StatusCode.INVALID_ARGUMENT, "NotFound": grpc.StatusCode.NOT_FOUND}
    assert error.code() == expected[case["expect"]["grpcStatus"]], error.details()
    assert dict(error.trailing_metadata() or ()).get(PROBLEM_CODE_KEY) == case["expect"]["code"]

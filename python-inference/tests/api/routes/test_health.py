from __future__ import annotations

from fastapi.testclient import TestClient

from app.core.config import Settings
from app.main import create_app
from app.ml.registry import ModelRegistry
from tests.support import INCOMING_TRACE_ID, INCOMING_TRACEPARENT, assert_problem


def test_health_is_healthy_once_models_are_loaded(client: TestClient) -> None:
    response = client.get("/health")

    assert response.status_code == 200
    assert response.json() == {"status": "healthy"}


def test_health_is_503_not_ready_while_no_models_are_loaded(settings: Settings) -> None:
    unloaded = TestClient(create_app(settings, ModelRegistry()))

    response = unloaded.get("/health", headers={"traceparent": INCOMING_TRACEPARENT})

    assert_problem(response, 503, "not_ready", "/health", trace_id=INCOMING_TRACE_ID)


def test_alive_is_200_even_while_no_models_are_loaded(settings: Settings) -> None:
    unloaded = TestClient(create_app(settings, ModelRegistry()))

    response = unloaded.get("/alive")

    assert response.status_code == 200
    assert response.json() == {"status": "alive"}


def test_openapi_document_and_docs_are_served(client: TestClient) -> None:
    openapi = client.get("/openapi.json")
    docs = client.get("/docs")

    assert openapi.status_code == 200
    paths = openapi.json()["paths"]
    assert {"/v1/predict", "/v1/models", "/predict", "/health", "/alive"} <= set(paths)
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()

from __future__ import annotations

import hashlib
import pickle
import re

from fastapi.testclient import TestClient

from app.core.config import Settings
from app.main import create_app
from app.ml.registry import ModelRegistry
from tests.support import INCOMING_TRACE_ID, INCOMING_TRACEPARENT, assert_problem


def test_list_models_describes_sentiment_and_iris(client: TestClient) -> None:
    response = client.get("/v1/models")

    assert response.status_code == 200
    models = {m["name"]: m for m in response.json()["models"]}
    assert set(models) == {"sentiment", "iris"}
    assert models["sentiment"]["input_kind"] == "text"
    assert models["sentiment"]["labels"] == ["negative", "positive"]
    assert models["iris"]["input_kind"] == "features"
    assert models["iris"]["labels"] == ["setosa", "versicolor", "virginica"]
    assert (models["iris"]["feature_count"], models["sentiment"]["feature_count"]) == (4, None)
    for model in models.values():
        assert model["version"] == "1.0.0"
        assert 0.0 <= model["held_out_accuracy"] <= 1.0
        assert model["train_size"] > model["test_size"] > 0
        assert re.fullmatch(r"[0-9a-f]{64}", model["artifact_sha256"])
        assert model["description"]


def test_list_models_reports_the_served_estimators_metrics_and_hash(
    client: TestClient, registry: ModelRegistry
) -> None:
    models = {m["name"]: m for m in client.get("/v1/models").json()["models"]}

    for name in ("sentiment", "iris"):
        served = registry.get(name)
        assert models[name]["held_out_accuracy"] == served.trained.evaluation.held_out_accuracy
        assert models[name]["test_size"] == served.trained.evaluation.test_size
        pickled = pickle.dumps(served.trained.estimator, protocol=5)
        assert models[name]["artifact_sha256"] == hashlib.sha256(pickled).hexdigest()


def test_post_to_models_returns_method_not_allowed_problem(client: TestClient) -> None:
    response = client.post("/v1/models", json={}, headers={"traceparent": INCOMING_TRACEPARENT})

    assert_problem(response, 405, "method_not_allowed", "/v1/models", trace_id=INCOMING_TRACE_ID)
    assert "GET" in response.headers["allow"]


def test_unknown_route_returns_not_found_problem(client: TestClient) -> None:
    response = client.get("/v1/no-such-thing", headers={"traceparent": INCOMING_TRACEPARENT})

    body = assert_problem(response, 404, "not_found", "/v1/no-such-thing", trace_id=INCOMING_TRACE_ID)
    assert "errors" not in body


def test_error_without_traceparent_quotes_a_new_trace_id(client: TestClient) -> None:
    first = assert_problem(client.get("/nowhere"), 404, "not_found", "/nowhere")
    second = assert_problem(client.get("/nowhere"), 404, "not_found", "/nowhere")

    assert first["traceId"] != second["traceId"]
    assert INCOMING_TRACE_ID not in (first["traceId"], second["traceId"])


def test_list_models_lists_every_version_and_marks_the_served_one(client: TestClient, registry: ModelRegistry) -> None:
    models = {m["name"]: m for m in client.get("/v1/models").json()["models"]}

    sentiment_versions = {v["version"]: v for v in models["sentiment"]["versions"]}
    assert list(sentiment_versions) == ["1.0.0", "2.0.0"]
    assert [v["served"] for v in sentiment_versions.values()] == [True, False]
    for version, listed in sentiment_versions.items():
        [loaded] = [m for m in registry.versions("sentiment") if m.version == version]
        assert listed["held_out_accuracy"] == loaded.trained.evaluation.held_out_accuracy
        assert listed["artifact_sha256"] == loaded.trained.artifact_sha256
        assert listed["trained_at"]
    assert [v["version"] for v in models["iris"]["versions"]] == ["1.0.0"]


def test_list_models_follows_a_switch_of_the_served_version(settings: Settings, registry: ModelRegistry) -> None:
    switched = ModelRegistry(registry.all_versions())
    switched.activate("sentiment", "2.0.0")

    models = {m["name"]: m for m in TestClient(create_app(settings, switched)).get("/v1/models").json()["models"]}

    assert models["sentiment"]["version"] == "2.0.0"
    assert models["sentiment"]["held_out_accuracy"] == switched.get("sentiment").trained.evaluation.held_out_accuracy
    assert [v["served"] for v in models["sentiment"]["versions"]] == [False, True]

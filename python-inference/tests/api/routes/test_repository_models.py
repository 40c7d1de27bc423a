"""A model from the model repository (MODEL_REPOSITORY), served by the app as the built-in ones are: listed, predicted
over HTTP/JSON and gRPC with the same checks, and a repository that cannot be served stopping the start-up."""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.main import create_app
from app.ml.repository import MANIFEST, RepositoryError
from app.rpc.stubs import inference_pb2 as pb
from app.rpc.stubs import inference_pb2_grpc
from examples import train_wine
from tests.support import FIRST_WINE


@pytest.fixture(scope="module")
def repository(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("models")
    assert train_wine.main([str(root)]) == 0
    return root


@pytest.fixture(scope="module")
def served(settings: Settings, repository: Path) -> Iterator[tuple[TestClient, inference_pb2_grpc.InferenceStub]]:
    app = create_app(dataclasses.replace(settings, MODEL_REPOSITORY=repository, GRPC_PORT=0))
    with TestClient(app) as http, grpc.insecure_channel(f"127.0.0.1:{app.state.grpc_server.port}") as channel:
        yield http, inference_pb2_grpc.InferenceStub(channel)


def test_the_settings_read_the_repository_from_the_environment(repository: Path) -> None:
    assert Settings.from_env({"MODEL_REPOSITORY": str(repository)}).MODEL_REPOSITORY == repository
    assert Settings.from_env({}).MODEL_REPOSITORY is None


def test_a_repository_model_is_listed_with_its_manifest(served, repository: Path) -> None:
    http, _ = served
    models = {m["name"]: m for m in http.get("/v1/models").json()["models"]}

    assert set(models) == {"sentiment", "iris", "wine"}
    wine = models["wine"]
    manifest = json.loads((repository / "wine" / "1.0.0" / MANIFEST).read_text())
    assert (wine["version"], wine["input_kind"], wine["feature_count"]) == ("1.0.0", "features", 13)
    assert wine["labels"] == ["class_0", "class_1", "class_2"]
    assert wine["artifact_sha256"] == manifest["artifact_sha256"]
    assert wine["held_out_accuracy"] == manifest["evaluation"]["held_out_accuracy"]
    assert [v["version"] for v in wine["versions"]] == ["1.0.0"]


def test_a_repository_model_answers_over_http_and_grpc_alike(served) -> None:
    http, inference = served
    response = http.post("/v1/predict", json={"model": "wine", "inputs": [FIRST_WINE]})

    assert response.status_code == 200
    body = response.json()
    assert (body["model"], body["version"]) == ("wine", "1.0.0")
    [prediction] = body["predictions"]
    assert prediction["label"] == "class_0"
    reply = inference.Predict(
        pb.PredictRequest(model="wine", input=pb.ModelInput(features=pb.Features(values=FIRST_WINE)))
    )
    assert (reply.prediction.label, reply.version) == ("class_0", "1.0.0")
    assert reply.prediction.score == pytest.approx(prediction["score"], abs=1e-6)


def test_a_repository_model_gets_the_same_input_checks(served) -> None:
    http, inference = served
    response = http.post("/v1/predict", json={"model": "wine", "inputs": [FIRST_WINE[:12]]})

    assert response.status_code == 400
    assert response.json()["errors"] == {"inputs[0]": ["must be a list of 13 numbers, got 12 items"]}
    with pytest.raises(grpc.RpcError) as raised:
        inference.Predict(pb.PredictRequest(model="wine", input=pb.ModelInput(text="a wine")))
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_a_repository_that_cannot_be_served_stops_the_start_up(
    settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert train_wine.main([str(tmp_path)]) == 0
    (tmp_path / "wine" / "1.0.0" / "model.joblib").write_bytes(b"not the artifact")

    with caplog.at_level(logging.ERROR, logger="app.main"), pytest.raises(RepositoryError, match="artifact_sha256"):
        create_app(dataclasses.replace(settings, MODEL_REPOSITORY=tmp_path))
    assert any("cannot be served" in record.getMessage() for record in caplog.records)


def test_with_no_built_in_model_the_app_serves_the_repository_alone(settings: Settings, repository: Path) -> None:
    app = create_app(dataclasses.replace(settings, MODEL_REPOSITORY=repository, BUILTIN_MODELS=()))
    with TestClient(app) as http:
        assert http.get("/health").status_code == 200
        assert [m["name"] for m in http.get("/v1/models").json()["models"]] == ["wine"]
        missing = http.post("/v1/predict", json={"model": "sentiment", "inputs": ["fine"]})
        assert missing.status_code == 404
        assert missing.json()["code"] == "model_not_found"
        assert http.post("/v1/predict", json={"model": "wine", "inputs": [FIRST_WINE]}).status_code == 200

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.main import create_app
from app.ml.model import ServedModel
from app.ml.registry import ModelRegistry
from tests.support import (
    INCOMING_TRACE_ID,
    INCOMING_TRACEPARENT,
    SETOSA,
    VERSICOLOR,
    VIRGINICA,
    assert_problem,
    iris_split,
)


def test_predict_sentiment_returns_one_prediction_per_input_in_order(client: TestClient) -> None:
    texts = [
        "I absolutely loved this movie, the acting was wonderful.",
        "This is the worst purchase I have ever made.",
        "What a fantastic experience, I will definitely come back.",
    ]
    response = client.post("/v1/predict", json={"model": "sentiment", "inputs": texts})

    assert response.status_code == 200
    body = response.json()
    assert body["model"] == "sentiment"
    assert body["version"] == "1.0.0"
    assert [p["label"] for p in body["predictions"]] == ["positive", "negative", "positive"]


def test_predict_score_is_the_rounded_probability_of_the_returned_label(
    client: TestClient, registry: ModelRegistry
) -> None:
    texts = ["The staff were friendly and the room was spotless.", "The food was cold and the waiter was rude."]
    response = client.post("/v1/predict", json={"model": "sentiment", "inputs": texts})

    model = registry.get("sentiment")
    probabilities = model.trained.estimator.predict_proba(texts)
    for prediction, row in zip(response.json()["predictions"], probabilities):
        expected = round(float(row[model.labels.index(prediction["label"])]), 6)
        assert prediction["score"] == expected
        assert prediction["score"] == round(float(row.max()), 6)


def test_predict_iris_classifies_flower_measurements(client: TestClient) -> None:
    response = client.post("/v1/predict", json={"model": "iris", "inputs": [SETOSA, VIRGINICA, VERSICOLOR]})

    assert response.status_code == 200
    body = response.json()
    assert body["model"] == "iris"
    assert [p["label"] for p in body["predictions"]] == ["setosa", "virginica", "versicolor"]
    assert all(0.34 < p["score"] <= 1.0 for p in body["predictions"])


def test_predict_iris_on_the_held_out_rows_scores_the_reported_held_out_accuracy(
    client: TestClient, registry: ModelRegistry
) -> None:
    _, held_out = iris_split()

    response = client.post("/v1/predict", json={"model": "iris", "inputs": [list(row) for row, _ in held_out]})

    assert response.status_code == 200, response.text
    labels = [p["label"] for p in response.json()["predictions"]]
    accuracy = sum(label == species for label, (_, species) in zip(labels, held_out)) / len(held_out)
    assert accuracy == pytest.approx(registry.get("iris").trained.evaluation.held_out_accuracy)


def test_get_predict_shortcut_returns_one_sentiment_prediction(client: TestClient) -> None:
    # From tests/ml/data/unseen_sentences.tsv, which the sentiment tests keep apart from the training corpus.
    response = client.get("/predict", params={"text": "Your kind note cheered me up enormously."})

    assert response.status_code == 200
    body = response.json()
    assert body["model"] == "sentiment"
    assert body["version"] == "1.0.0"
    assert len(body["predictions"]) == 1
    assert body["predictions"][0]["label"] == "positive"


def test_predict_accepts_a_batch_of_exactly_max_batch_size(client: TestClient) -> None:
    response = client.post("/v1/predict", json={"model": "sentiment", "inputs": ["fine"] * 100})

    assert response.status_code == 200
    assert len(response.json()["predictions"]) == 100


def test_predict_more_than_max_batch_size_returns_batch_too_large(client: TestClient) -> None:
    response = client.post(
        "/v1/predict",
        json={"model": "sentiment", "inputs": ["fine"] * 101},
        headers={"traceparent": INCOMING_TRACEPARENT},
    )

    body = assert_problem(response, 400, "batch_too_large", "/v1/predict", trace_id=INCOMING_TRACE_ID)
    assert "100" in body["detail"]
    assert "errors" not in body


def test_predict_accepts_text_of_exactly_max_text_length(client: TestClient) -> None:
    response = client.post("/v1/predict", json={"model": "sentiment", "inputs": ["good " * 1000]})

    assert response.status_code == 200


def test_predict_text_longer_than_max_text_length_is_validation_failed(client: TestClient) -> None:
    response = client.post("/v1/predict", json={"model": "sentiment", "inputs": ["ok", "a" * 5001]})

    body = assert_problem(response, 400, "validation_failed", "/v1/predict")
    assert list(body["errors"]) == ["inputs[1]"]
    assert "5000" in body["errors"]["inputs[1]"][0]


@pytest.mark.parametrize(
    ("model", "inputs", "bad_paths"),
    [
        ("sentiment", ["fine", ""], ["inputs[1]"]),
        ("sentiment", ["   \t\n"], ["inputs[0]"]),
        ("sentiment", [42, "fine", None, ["nested"]], ["inputs[0]", "inputs[2]", "inputs[3]"]),
        ("iris", ["5.1, 3.5, 1.4, 0.2"], ["inputs[0]"]),
        ("iris", [SETOSA, [5.1, 3.5, 1.4]], ["inputs[1]"]),
        ("iris", [[5.1, 3.5, 1.4, 0.2, 9.9]], ["inputs[0]"]),
        ("iris", [[5.1, "3.5", 1.4, 0.2]], ["inputs[0]"]),
        ("iris", [[5.1, True, 1.4, 0.2]], ["inputs[0]"]),
    ],
)
def test_predict_with_wrong_input_kind_is_validation_failed_per_input(
    client: TestClient, model: str, inputs: list[object], bad_paths: list[str]
) -> None:
    response = client.post(
        "/v1/predict", json={"model": model, "inputs": inputs}, headers={"traceparent": INCOMING_TRACEPARENT}
    )

    body = assert_problem(response, 400, "validation_failed", "/v1/predict", trace_id=INCOMING_TRACE_ID)
    assert sorted(body["errors"]) == bad_paths
    assert all(messages and all(isinstance(m, str) for m in messages) for messages in body["errors"].values())


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_predict_iris_with_non_finite_number_is_validation_failed(client: TestClient, number: str) -> None:
    raw = '{"model": "iris", "inputs": [[5.1, 3.5, 1.4, 0.2], [5.1, %s, 1.4, 0.2]]}' % number
    response = client.post("/v1/predict", content=raw, headers={"content-type": "application/json"})

    body = assert_problem(response, 400, "validation_failed", "/v1/predict")
    assert body["errors"] == {"inputs[1]": ["item 1 must be a finite number"]}


def test_predict_with_empty_inputs_is_validation_failed(client: TestClient) -> None:
    response = client.post("/v1/predict", json={"model": "sentiment", "inputs": []})

    body = assert_problem(response, 400, "validation_failed", "/v1/predict")
    assert list(body["errors"]) == ["inputs"]


def test_predict_schema_errors_become_400_validation_failed_not_422(client: TestClient) -> None:
    response = client.post(
        "/v1/predict", json={"inputs": "not a list"}, headers={"traceparent": INCOMING_TRACEPARENT}
    )

    body = assert_problem(response, 400, "validation_failed", "/v1/predict", trace_id=INCOMING_TRACE_ID)
    assert sorted(body["errors"]) == ["inputs", "model"]


def test_predict_with_non_string_model_name_is_validation_failed(client: TestClient) -> None:
    response = client.post("/v1/predict", json={"model": 7, "inputs": ["fine"]})

    body = assert_problem(response, 400, "validation_failed", "/v1/predict")
    assert list(body["errors"]) == ["model"]


def test_predict_with_malformed_json_is_validation_failed(client: TestClient) -> None:
    response = client.post(
        "/v1/predict",
        content=b'{"model": "sentiment", "inputs": ["unterminated}',
        headers={"content-type": "application/json", "traceparent": INCOMING_TRACEPARENT},
    )

    body = assert_problem(response, 400, "validation_failed", "/v1/predict", trace_id=INCOMING_TRACE_ID)
    assert list(body["errors"]) == ["body"]


def test_predict_with_unknown_model_returns_model_not_found_naming_known_models(client: TestClient) -> None:
    response = client.post(
        "/v1/predict",
        json={"model": "gpt-17", "inputs": ["hello"]},
        headers={"traceparent": INCOMING_TRACEPARENT},
    )

    body = assert_problem(response, 404, "model_not_found", "/v1/predict", trace_id=INCOMING_TRACE_ID)
    assert "gpt-17" in body["detail"]
    assert "iris" in body["detail"] and "sentiment" in body["detail"]


def test_get_predict_without_text_is_validation_failed_on_text(client: TestClient) -> None:
    response = client.get("/predict", headers={"traceparent": INCOMING_TRACEPARENT})

    body = assert_problem(response, 400, "validation_failed", "/predict", trace_id=INCOMING_TRACE_ID)
    assert list(body["errors"]) == ["text"]


@pytest.mark.parametrize("text", ["", "   ", "x" * 5001])
def test_get_predict_with_empty_or_too_long_text_is_validation_failed_on_text(client: TestClient, text: str) -> None:
    response = client.get("/predict", params={"text": text})

    body = assert_problem(response, 400, "validation_failed", "/predict")
    assert list(body["errors"]) == ["text"]


def test_unexpected_exception_returns_internal_error_without_internals(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(self: ServedModel, inputs: object) -> object:
        raise RuntimeError("secret internal state")

    monkeypatch.setattr(ServedModel, "predict", explode)

    response = client.post(
        "/v1/predict", json={"model": "sentiment", "inputs": ["fine"]}, headers={"traceparent": INCOMING_TRACEPARENT}
    )

    body = assert_problem(response, 500, "internal_error", "/v1/predict", trace_id=INCOMING_TRACE_ID)
    assert "secret" not in response.text
    assert "Traceback" not in response.text
    assert "errors" not in body


def test_switching_the_served_version_changes_the_reported_version_and_the_model_used(
    settings: Settings, registry: ModelRegistry
) -> None:
    own = ModelRegistry(registry.all_versions())
    client = TestClient(create_app(settings, own))
    texts = ["The staff were friendly and the room was spotless.", "The food was cold and the waiter was rude."]
    before = client.post("/v1/predict", json={"model": "sentiment", "inputs": texts}).json()

    own.activate("sentiment", "2.0.0")

    after = client.post("/v1/predict", json={"model": "sentiment", "inputs": texts}).json()
    shortcut = client.get("/predict", params={"text": texts[0]}).json()
    assert (before["version"], after["version"], shortcut["version"]) == ("1.0.0", "2.0.0", "2.0.0")
    expected = own.get("sentiment").predict(texts)
    assert [(p["label"], p["score"]) for p in after["predictions"]] == [(p.label, p.score) for p in expected]
    assert after["predictions"] != before["predictions"]

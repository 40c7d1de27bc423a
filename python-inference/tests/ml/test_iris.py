from __future__ import annotations

from pathlib import Path

import pytest

from app.ml import iris
from app.ml.cache import Evaluation
from app.ml.registry import ModelRegistry
from tests.support import SETOSA, VERSICOLOR, VIRGINICA, iris_split


def test_held_out_accuracy_is_at_least_90_percent(registry: ModelRegistry) -> None:
    evaluation = registry.get("iris").trained.evaluation

    assert evaluation.held_out_accuracy >= 0.9
    assert (evaluation.train_size, evaluation.test_size) == (120, 30)


def test_predicts_species_names_with_probabilities(registry: ModelRegistry) -> None:
    model = registry.get("iris")

    predictions = model.predict([SETOSA, VERSICOLOR, VIRGINICA])

    assert [p.label for p in predictions] == ["setosa", "versicolor", "virginica"]
    assert all(1 / 3 < p.score <= 1.0 for p in predictions)
    assert model.labels == ["setosa", "versicolor", "virginica"]
    assert model.input_kind == "features" and model.feature_count == 4


def test_the_test_flowers_are_held_out_rows_the_model_never_trained_on() -> None:
    trained_on, held_out = iris_split()
    held_out_rows = {row for row, _ in held_out}

    assert len(held_out) == 30  # no held-out flower repeats a training one
    for flower, species in ((SETOSA, "setosa"), (VERSICOLOR, "versicolor"), (VIRGINICA, "virginica")):
        assert tuple(flower) not in trained_on
        assert (tuple(flower), species) in held_out
    assert held_out_rows.isdisjoint(trained_on)


def test_held_out_rows_are_classified_with_the_reported_held_out_accuracy(registry: ModelRegistry) -> None:
    model = registry.get("iris")
    _, held_out = iris_split()

    predictions = model.predict([list(row) for row, _ in held_out])

    correct = sum(p.label == species for p, (_, species) in zip(predictions, held_out))
    assert correct / len(held_out) == pytest.approx(model.trained.evaluation.held_out_accuracy)
    assert correct / len(held_out) >= 0.9


def test_training_twice_gives_the_same_artifact_hash(registry: ModelRegistry, tmp_path: Path) -> None:
    retrained = iris.load(tmp_path)

    assert retrained.trained.from_cache is False
    assert retrained.trained.artifact_sha256 == registry.get("iris").trained.artifact_sha256


def test_second_load_comes_from_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    iris.load(tmp_path)

    def must_not_train(features: object, species: object) -> tuple[object, Evaluation]:
        raise AssertionError("retrained although the cache was valid")

    monkeypatch.setattr(iris, "train", must_not_train)

    assert iris.load(tmp_path).trained.from_cache is True

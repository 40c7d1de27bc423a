"""sentiment 2.0.0 (app/ml/sentiment_tfidf.py): its own quality and determinism, on the same split as 1.0.0."""

from __future__ import annotations

from pathlib import Path

from app.ml import sentiment, sentiment_tfidf
from app.ml.model import ServedModel
from app.ml.registry import ModelRegistry
from tests.ml.test_sentiment import UNSEEN_SENTENCES


def _version(registry: ModelRegistry, version: str) -> ServedModel:
    [model] = [m for m in registry.versions("sentiment") if m.version == version]
    return model


def test_held_out_accuracy_is_at_least_80_percent_on_the_same_split_as_1_0_0(registry: ModelRegistry) -> None:
    first, second = _version(registry, "1.0.0"), _version(registry, "2.0.0")
    evaluation = second.trained.evaluation

    print(f"sentiment 2.0.0 held-out accuracy {evaluation.held_out_accuracy:.4f} on {evaluation.test_size} texts")
    assert evaluation.held_out_accuracy >= 0.80
    assert (evaluation.train_size, evaluation.test_size) == (
        first.trained.evaluation.train_size,
        first.trained.evaluation.test_size,
    )


def test_it_is_another_estimator_than_1_0_0(registry: ModelRegistry) -> None:
    first, second = _version(registry, "1.0.0"), _version(registry, "2.0.0")

    assert second.trained.artifact_sha256 != first.trained.artifact_sha256
    assert second.trained.evaluation.held_out_accuracy != first.trained.evaluation.held_out_accuracy
    assert second.description != first.description


def test_unseen_sentences_get_valid_predictions_mostly_right(registry: ModelRegistry) -> None:
    predictions = _version(registry, "2.0.0").predict([text for text, _ in UNSEEN_SENTENCES])

    assert all(p.label in sentiment.LABELS and 0.5 <= p.score <= 1.0 for p in predictions)
    right = sum(p.label == expected for (_, expected), p in zip(UNSEEN_SENTENCES, predictions))
    assert right >= 0.85 * len(UNSEEN_SENTENCES)


def test_training_twice_gives_the_same_artifact_hash(registry: ModelRegistry, tmp_path: Path) -> None:
    served = _version(registry, "2.0.0")

    retrained = sentiment_tfidf.load(tmp_path)

    assert retrained.trained.from_cache is False
    assert retrained.trained.artifact_sha256 == served.trained.artifact_sha256
    assert retrained.trained.evaluation == served.trained.evaluation


def test_it_has_its_own_cache_entry_beside_1_0_0(model_cache_dir: Path) -> None:
    first = sentiment.load(model_cache_dir)
    second = sentiment_tfidf.load(model_cache_dir)

    assert first.trained.from_cache and second.trained.from_cache
    assert len(list(model_cache_dir.glob("sentiment-*.pkl"))) == 2
    assert first.version == "1.0.0" and second.version == "2.0.0"

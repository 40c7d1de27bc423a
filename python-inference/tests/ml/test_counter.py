"""The in-memory prediction counter (app/ml/counter.py) that the prediction.made publisher drains."""

from __future__ import annotations

from collections import Counter

from app.ml.counter import ModelVersion, PredictionCounter


def test_counter_aggregates_predictions_per_model_version_and_label() -> None:
    counter = PredictionCounter(flush_threshold=1000)

    counter.record("sentiment", "1.0.0", ["positive", "negative", "positive"])
    counter.record("sentiment", "1.0.0", ["positive"])
    counter.record("iris", "1.0.0", ["setosa"])

    assert counter.pending == 5
    assert counter.take() == {
        ModelVersion("sentiment", "1.0.0"): Counter(positive=3, negative=1),
        ModelVersion("iris", "1.0.0"): Counter(setosa=1),
    }
    assert counter.pending == 0
    assert counter.take() == {}


def test_memory_holds_counts_not_predictions() -> None:
    counter = PredictionCounter(flush_threshold=10**9)

    for _ in range(10_000):
        counter.record("sentiment", "1.0.0", ["positive", "negative"])

    assert counter.pending == 20_000
    assert counter.take() == {ModelVersion("sentiment", "1.0.0"): Counter(positive=10_000, negative=10_000)}


def test_crossing_the_threshold_calls_back_once() -> None:
    counter = PredictionCounter(flush_threshold=3)
    calls: list[int] = []
    counter.on_threshold = lambda: calls.append(counter.pending)

    counter.record("iris", "1.0.0", ["setosa", "setosa"])
    counter.record("iris", "1.0.0", ["setosa", "virginica"])
    counter.record("iris", "1.0.0", ["setosa"])

    assert calls == [4]

"""How every model is trained and measured, so the reported accuracy always means the same thing."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline

from app.ml.cache import Evaluation


def fit_and_evaluate(
    pipeline: Pipeline, inputs: Any, labels: Sequence[Any], params: Mapping[str, Any]
) -> tuple[Pipeline, Evaluation]:
    """Fit on a stratified split (the model's `test_size` and `random_state` params) and measure accuracy on the
    held-out part.

    The pipeline fitted here is the one that is served: it is not refit on all data afterwards, so the
    held-out accuracy describes exactly the model that answers requests.
    """
    train_x, test_x, train_y, test_y = split(inputs, labels, params)
    pipeline.fit(train_x, train_y)
    return pipeline, Evaluation(float(pipeline.score(test_x, test_y)), len(train_x), len(test_x))


def split(inputs: Any, labels: Sequence[Any], params: Mapping[str, Any]) -> list[Any]:
    """The stratified split a model trains on: [train inputs, test inputs, train labels, test labels]."""
    return list(
        train_test_split(
            inputs, labels, test_size=params["test_size"], random_state=params["random_state"], stratify=labels
        )
    )

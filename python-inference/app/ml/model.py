"""What every served model looks like to the API: metadata plus batch prediction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from app.ml.cache import TrainedModel

InputKind = Literal["text", "features"]


@dataclass(frozen=True)
class Prediction:
    label: str
    score: float


@dataclass(frozen=True)
class ServedModel:
    name: str
    version: str
    input_kind: InputKind
    description: str
    trained: TrainedModel
    feature_count: int | None = None  # only for input_kind "features"

    @property
    def labels(self) -> list[str]:
        return [str(label) for label in self.trained.estimator.classes_]

    def predict(self, inputs: Sequence[Any]) -> list[Prediction]:
        """Predict validated inputs; score is the probability of the returned label."""
        batch = np.asarray(inputs, dtype=float) if self.input_kind == "features" else list(inputs)
        probabilities = self.trained.estimator.predict_proba(batch)
        best = probabilities.argmax(axis=1)
        labels = self.labels
        return [
            Prediction(label=labels[index], score=round(float(row[index]), 6))
            for index, row in zip(best, probabilities)
        ]

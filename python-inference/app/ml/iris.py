"""Iris species from four flower measurements, trained on scikit-learn's bundled iris data set."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from app.ml.cache import Evaluation, load_or_train, sha256_hex
from app.ml.model import ServedModel
from app.ml.training import fit_and_evaluate

NAME = "iris"
VERSION = "1.0.0"
FEATURES = ("sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)")
DESCRIPTION = (
    "Iris species (setosa, versicolor, virginica) from [sepal length, sepal width, "
    "petal length, petal width] in cm: standardised features with logistic regression."
)

TRAINING_PARAMS: dict[str, Any] = {
    "test_size": 0.2,
    "random_state": 42,
    "classifier": {"C": 1.0, "max_iter": 1000},
}


def load_data() -> tuple[np.ndarray, np.ndarray]:
    """Measurements and species names (string labels, so the estimator predicts names)."""
    iris = load_iris()
    return iris.data, np.asarray(iris.target_names)[iris.target]


def train(features: np.ndarray, species: np.ndarray) -> tuple[Pipeline, Evaluation]:
    """Fit on a stratified 80% split and measure accuracy on the other 20% (the served model)."""
    classifier = LogisticRegression(random_state=TRAINING_PARAMS["random_state"], **TRAINING_PARAMS["classifier"])
    pipeline = Pipeline([("scale", StandardScaler()), ("classifier", classifier)])
    return fit_and_evaluate(pipeline, features, species, TRAINING_PARAMS)


def load(cache_dir: Path) -> ServedModel:
    features, species = load_data()
    data_hash = sha256_hex(features.tobytes() + "\n".join(species).encode("utf-8"))
    fingerprint = {"version": VERSION, "data_sha256": data_hash, "params": TRAINING_PARAMS}
    trained = load_or_train(Path(cache_dir), NAME, fingerprint, lambda: train(features, species))
    return ServedModel(NAME, VERSION, "features", DESCRIPTION, trained, feature_count=len(FEATURES))

"""A model trained outside the service and served by it: the template for bringing your own.

    models="$PWD/models"     (from the repository root: any folder you can write)
    (cd python-inference && .venv/bin/python -m examples.train_wine "$models")
    ./run.sh --PythonInference:ModelRepository="$models"

Trains a wine-cultivar classifier on scikit-learn's bundled wine data set (13 chemical measurements per wine, three
cultivars) and writes it into the model repository's layout with `write_model`: `wine/1.0.0/model.joblib` and its
`model.json`. python-inference then serves `wine` beside the built-in models, over HTTP/JSON and gRPC, registers it
with the Worker, and the gateway and the jobs take it by name (docs/models.md). Replace the data and the estimator
with your own; keep the call to `write_model`.
"""

from __future__ import annotations

import sys
from pathlib import Path

from sklearn.datasets import load_wine
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from app.ml.cache import Evaluation
from app.ml.repository import write_model

NAME = "wine"
VERSION = "1.0.0"


def train() -> tuple[Pipeline, Evaluation, int]:
    data = load_wine()
    labels = [str(data.target_names[index]) for index in data.target]  # the answer is a name, not an index
    train_x, test_x, train_y, test_y = train_test_split(
        data.data, labels, test_size=0.2, random_state=42, stratify=labels
    )
    pipeline = Pipeline(
        [("scale", StandardScaler()), ("classifier", LogisticRegression(max_iter=1000, random_state=42))]
    )
    pipeline.fit(train_x, train_y)
    accuracy = round(float(pipeline.score(test_x, test_y)), 6)
    evaluation = Evaluation(held_out_accuracy=accuracy, train_size=len(train_y), test_size=len(test_y))
    return pipeline, evaluation, data.data.shape[1]


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m examples.train_wine <model repository folder>", file=sys.stderr)
        return 2
    pipeline, evaluation, feature_count = train()
    version_dir = write_model(
        Path(argv[0]),
        NAME,
        VERSION,
        pipeline,
        input_kind="features",
        feature_count=feature_count,
        description=(
            "Wine cultivar (class_0, class_1, class_2) from 13 chemical measurements (alcohol, malic acid, ash, ...) "
            "in scikit-learn's wine data set order: standardised features with logistic regression."
        ),
        evaluation=evaluation,
    )
    print(f"{NAME} {VERSION}: held-out accuracy {evaluation.held_out_accuracy:.4f} -> {version_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

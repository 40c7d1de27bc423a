"""`python -m app.ml.warm`: trains (or loads) every model into the cache, so the service starts quickly.

The set-up script runs it once; it prints each model's held-out accuracy. With MODEL_REPOSITORY set it also loads and
checks the repository's models, as the service's start-up will (a problem there exits non-zero with its reason).
"""

from __future__ import annotations

from app.core.config import Settings
from app.ml.registry import load_models


def main() -> None:
    settings = Settings.from_env()
    for model in load_models(settings.MODEL_CACHE_DIR, repository=settings.MODEL_REPOSITORY).all_versions():
        evaluation = model.trained.evaluation
        print(
            f"{model.name} {model.version}: held-out accuracy {evaluation.held_out_accuracy:.4f} "
            f"({evaluation.train_size} train / {evaluation.test_size} test)"
        )


if __name__ == "__main__":
    main()

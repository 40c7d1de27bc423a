"""In-process catalogue of the loaded models, looked up by name."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from app.ml import iris, sentiment
from app.ml.model import ServedModel


class ModelNotFoundError(LookupError):
    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(name)
        self.name = name
        self.known = known


class ModelRegistry:
    """An empty registry means the models are not loaded yet (readiness reports 503)."""

    def __init__(self, models: Iterable[ServedModel] = ()) -> None:
        self._models = {model.name: model for model in models}

    @property
    def ready(self) -> bool:
        return bool(self._models)

    def names(self) -> list[str]:
        return sorted(self._models)

    def get(self, name: str) -> ServedModel:
        try:
            return self._models[name]
        except KeyError:
            raise ModelNotFoundError(name, self.names()) from None

    def __iter__(self) -> Iterator[ServedModel]:
        return iter(self._models[name] for name in self.names())


def load_models(cache_dir: Path) -> ModelRegistry:
    return ModelRegistry([sentiment.load(cache_dir), iris.load(cache_dir)])

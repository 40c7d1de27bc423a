"""In-process catalogue of the loaded models: every version of each, and the one version of each that is served.

Which version is served changes at run time (the Worker's registry decides: app/worker/registration.py asks it at
start-up, app/messaging/activation.py follows its `model.activated` events). A switch replaces the whole
name -> model mapping in one assignment, so a request reads either the old mapping or the new one, never a mix,
and the request path takes no lock. A request resolves its model once and reports that model's version.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path

from app.ml import iris, sentiment, sentiment_tfidf
from app.ml.model import ServedModel
from app.ml.repository import RepositoryError, load_repository

logger = logging.getLogger(__name__)


class ModelNotFoundError(LookupError):
    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(name)
        self.name = name
        self.known = known


class VersionNotFoundError(LookupError):
    def __init__(self, name: str, version: str, known: list[str]) -> None:
        super().__init__(f"{name} {version}")
        self.name = name
        self.version = version
        self.known = known


class ModelRegistry:
    """An empty registry means the models are not loaded yet (readiness reports 503).

    Each model serves `default_versions[name]` at first, else the first version given for it.
    """

    def __init__(self, models: Iterable[ServedModel] = (), default_versions: Mapping[str, str] | None = None) -> None:
        self._versions: dict[str, dict[str, ServedModel]] = {}
        for model in models:
            self._versions.setdefault(model.name, {})[model.version] = model
        served: dict[str, ServedModel] = {}
        for name, versions in self._versions.items():
            default = (default_versions or {}).get(name)
            if default is None:
                served[name] = next(iter(versions.values()))
            elif default in versions:
                served[name] = versions[default]
            else:
                raise VersionNotFoundError(name, default, list(versions))
        self._served: Mapping[str, ServedModel] = served

    @property
    def ready(self) -> bool:
        return bool(self._served)

    def names(self) -> list[str]:
        return sorted(self._served)

    def get(self, name: str) -> ServedModel:
        """The served version of `name`."""
        try:
            return self._served[name]
        except KeyError:
            raise ModelNotFoundError(name, self.names()) from None

    def versions(self, name: str) -> list[ServedModel]:
        """Every loaded version of `name`, in load order."""
        try:
            return list(self._versions[name].values())
        except KeyError:
            raise ModelNotFoundError(name, self.names()) from None

    def all_versions(self) -> list[ServedModel]:
        return [model for name in self.names() for model in self._versions[name].values()]

    def activate(self, name: str, version: str) -> bool:
        """Serve `version` of `name` from the next request on; False if it was served already."""
        versions = self._versions.get(name)
        if versions is None:
            raise ModelNotFoundError(name, self.names())
        model = versions.get(version)
        if model is None:
            raise VersionNotFoundError(name, version, list(versions))
        served = self._served
        if served[name] is model:
            return False
        self._served = {**served, name: model}  # one reference swap; see the module's docstring
        logger.info("serving %s %s (was %s)", name, version, served[name].version)
        return True

    def __iter__(self) -> Iterator[ServedModel]:
        """The served version of each model, by name."""
        served = self._served
        return iter([served[name] for name in sorted(served)])


BUILT_IN_LOADERS: Mapping[str, tuple[Callable[[Path], ServedModel], ...]] = {
    sentiment.NAME: (sentiment.load, sentiment_tfidf.load),
    iris.NAME: (iris.load,),
}


def load_models(
    cache_dir: Path,
    default_versions: Mapping[str, str] | None = None,
    repository: Path | None = None,
    built_ins: Iterable[str] | None = None,
) -> ModelRegistry:
    """The built-in models (those named in `built_ins`; all by default), and every version in the model repository if
    there is one (app/ml/repository.py).

    A repository version of a built-in model joins its versions (the built-in default is still served first); a model
    only the repository has serves its highest version first. Either way, once python-inference has registered with
    the Worker, the registry's active version is the one served.
    """
    names = list(BUILT_IN_LOADERS) if built_ins is None else list(built_ins)
    built_in = [load(cache_dir) for name in names for load in BUILT_IN_LOADERS[name]]
    added = load_repository(repository) if repository is not None else []
    if not built_in and not added:
        where = f"{repository}: no model in it, and" if repository is not None else "no model repository, and"
        raise RepositoryError(f"{where} no built-in model asked for: nothing to serve")
    built_in_names = {model.name for model in built_in}
    built_in_versions = {(model.name, model.version) for model in built_in}
    for model in added:
        if (model.name, model.version) in built_in_versions:
            raise RepositoryError(
                f"{repository / model.name / model.version}: {model.name} {model.version} is a built-in version; "
                "give the repository's another version"
            )
    defaults = dict(default_versions or {})
    # load_repository gives each model's versions in order, so the last one seen is the highest.
    highest = {model.name: model.version for model in added if model.name not in built_in_names}
    for name, version in highest.items():
        defaults.setdefault(name, version)
    return ModelRegistry([*built_in, *added], defaults)

"""Models a team trained elsewhere, served beside the built-in ones: a model repository (MODEL_REPOSITORY).

Layout, one folder per version::

    <MODEL_REPOSITORY>/<name>/<version>/model.joblib   the fitted estimator (joblib.dump)
    <MODEL_REPOSITORY>/<name>/<version>/model.json     what the registry and the API report about it

`model.json` (written by `write_model`, or by hand)::

    {"input_kind": "features", "feature_count": 13, "description": "...",
     "artifact_sha256": "<SHA-256 of model.joblib>", "trained_at": "2026-12-06T08:00:00+00:00",
     "evaluation": {"held_out_accuracy": 0.97, "train_size": 142, "test_size": 36}, "scikit_learn": "1.2.1"}

`scikit_learn` (optional) is the version that wrote the artifact; loading it with another one is logged as a warning.

The estimator must take the inputs as the API passes them (a list of strings for `text`, a 2-D array of
`feature_count` numbers per row for `features`) and have `predict_proba` and `classes_`, as any scikit-learn
classifier or pipeline ending in one does. A version may be a new model or a new version of a built-in one.

A joblib file is a pickle: loading it runs code of whoever wrote it. The repository is trusted as the service's own
code is (deploy it read-only, from the same source as the image); what this module adds is that a file whose SHA-256
is not the one its manifest names is never unpickled, so a truncated or swapped artifact stops the start-up instead
of serving. Anything wrong with the repository stops the start-up with the path and the reason (`RepositoryError`):
a model that cannot be served as declared is not served at all.
"""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import sklearn

from app.ml.cache import Evaluation, TrainedModel, sha256_hex
from app.ml.model import InputKind, ServedModel

logger = logging.getLogger(__name__)

ARTIFACT = "model.joblib"
MANIFEST = "model.json"
# A model name as the gateway accepts it in a request; a version as a folder name that is safe everywhere.
NAME_PATTERN = re.compile(r"^[a-z0-9_-]{1,64}$")
VERSION_PATTERN = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._+-]{0,63}$")
# A probe row the estimator must answer at load time, so a model declared with the wrong input kind or size fails
# the start-up rather than every request.
PROBE_TEXT = "a probe sentence"


class RepositoryError(ValueError):
    """The repository cannot be served as it is; the message names the path and what is wrong."""


@dataclass(frozen=True)
class Manifest:
    """model.json: what the service cannot learn from the estimator itself."""

    input_kind: InputKind
    feature_count: int | None
    description: str
    artifact_sha256: str
    trained_at: datetime
    evaluation: Evaluation
    scikit_learn: str | None = None  # the version that wrote the artifact; another one here is logged (a pickle's risk)

    def to_json(self) -> str:
        document: dict[str, Any] = {"input_kind": self.input_kind}
        if self.feature_count is not None:
            document["feature_count"] = self.feature_count
        document |= {
            "description": self.description,
            "artifact_sha256": self.artifact_sha256,
            "trained_at": self.trained_at.isoformat(),
            "evaluation": {
                "held_out_accuracy": self.evaluation.held_out_accuracy,
                "train_size": self.evaluation.train_size,
                "test_size": self.evaluation.test_size,
            },
        }
        if self.scikit_learn is not None:
            document["scikit_learn"] = self.scikit_learn
        return json.dumps(document, indent=2) + "\n"

    @classmethod
    def parse(cls, document: Any) -> Manifest:
        """The manifest, or ValueError naming every field that is wrong (checked by hand: the service runs on
        pydantic 1 and 2, and this is a dozen rules)."""
        if not isinstance(document, dict):
            raise ValueError("manifest: a JSON object is required")
        errors: list[str] = []
        unknown = sorted(set(document) - _MANIFEST_FIELDS)
        if unknown:
            errors.append(f"unknown field(s) {', '.join(unknown)}")
        input_kind = document.get("input_kind")
        if input_kind not in ("text", "features"):
            errors.append("input_kind: 'text' or 'features'")
        feature_count = document.get("feature_count")
        if input_kind == "features" and not _is_int(feature_count, 1, 10_000):
            errors.append("feature_count: a whole number from 1 to 10000, required for input_kind 'features'")
        if input_kind == "text" and feature_count is not None:
            errors.append("feature_count: only for input_kind 'features'")
        description = document.get("description")
        if not isinstance(description, str) or not 1 <= len(description.strip()) <= 1000:
            errors.append("description: 1 to 1000 characters")
        artifact_sha256 = document.get("artifact_sha256")
        if not isinstance(artifact_sha256, str) or not re.fullmatch(r"[0-9a-f]{64}", artifact_sha256):
            errors.append("artifact_sha256: the SHA-256 of model.joblib, 64 lower-case hexadecimal digits")
        trained_at = _timestamp(document.get("trained_at"))
        if trained_at is None:
            errors.append("trained_at: an ISO 8601 time with its offset, e.g. 2026-12-06T08:00:00+00:00")
        evaluation = document.get("evaluation")
        if not isinstance(evaluation, dict) or set(evaluation) != {"held_out_accuracy", "train_size", "test_size"}:
            errors.append("evaluation: an object of held_out_accuracy, train_size and test_size")
        else:
            accuracy = evaluation["held_out_accuracy"]
            if isinstance(accuracy, bool) or not isinstance(accuracy, (int, float)) or not 0.0 <= accuracy <= 1.0:
                errors.append("evaluation.held_out_accuracy: a number from 0 to 1")
            for size in ("train_size", "test_size"):
                if not _is_int(evaluation[size], 1, None):
                    errors.append(f"evaluation.{size}: a whole number of at least 1")
        scikit_learn = document.get("scikit_learn")
        if scikit_learn is not None and (not isinstance(scikit_learn, str) or not scikit_learn.strip()):
            errors.append("scikit_learn: the version that wrote the artifact, e.g. 1.2.1")
        if errors:
            raise ValueError("; ".join(errors))
        return cls(
            input_kind=input_kind,
            feature_count=feature_count,
            description=description,
            artifact_sha256=artifact_sha256,
            trained_at=trained_at,
            evaluation=Evaluation(
                float(evaluation["held_out_accuracy"]), evaluation["train_size"], evaluation["test_size"]
            ),
            scikit_learn=scikit_learn,
        )


_MANIFEST_FIELDS = frozenset(field.name for field in fields(Manifest))


def _is_int(value: Any, low: int, high: int | None) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= low and (high is None or value <= high)


def _timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def load_repository(root: Path) -> list[ServedModel]:
    """Every version in the repository, by name then version (natural order: 1.10.0 after 1.9.0)."""
    if not root.is_dir():
        raise RepositoryError(f"model repository {root}: not a directory")
    models = []
    for model_dir in sorted(path for path in root.iterdir() if not path.name.startswith(".")):
        if not model_dir.is_dir():
            raise RepositoryError(f"{model_dir}: expected a folder per model, <name>/<version>/")
        _check_name(model_dir)
        versions = [path for path in model_dir.iterdir() if not path.name.startswith(".")]
        if not versions:
            raise RepositoryError(f"{model_dir}: no version folder in it")
        for version_dir in sorted(versions, key=lambda path: version_order(path.name)):
            models.append(load_version(version_dir))
    return models


def load_version(version_dir: Path) -> ServedModel:
    name, version = version_dir.parent.name, version_dir.name
    _check_name(version_dir.parent)
    _check_version(version_dir)
    if not version_dir.is_dir():
        raise RepositoryError(f"{version_dir}: a version is a folder")
    manifest = _read_manifest(version_dir / MANIFEST)
    try:
        artifact = (version_dir / ARTIFACT).read_bytes()
    except OSError as error:
        raise RepositoryError(f"{version_dir / ARTIFACT}: {error.strerror or error}") from None
    actual = sha256_hex(artifact)
    if actual != manifest.artifact_sha256:
        # Checked before unpickling: bytes the manifest does not name are never run.
        raise RepositoryError(
            f"{version_dir / ARTIFACT}: SHA-256 {actual} is not the manifest's artifact_sha256 "
            f"{manifest.artifact_sha256}; the file is not the one the manifest describes"
        )
    if manifest.scikit_learn is not None and manifest.scikit_learn != sklearn.__version__:
        # scikit-learn does not promise that a pickle loads, or predicts alike, in another version than its own.
        logger.warning(
            "%s was written by scikit-learn %s and is loaded by %s: train it with the version that serves it",
            version_dir / ARTIFACT, manifest.scikit_learn, sklearn.__version__,
        )
    try:
        estimator = joblib.load(io.BytesIO(artifact))
    except Exception as error:  # noqa: BLE001 - whatever the unpickler raises, the artifact cannot be served
        raise RepositoryError(f"{version_dir / ARTIFACT}: could not be loaded: {error}") from None
    served = ServedModel(
        name,
        version,
        manifest.input_kind,
        manifest.description,
        TrainedModel(
            estimator=estimator,
            evaluation=manifest.evaluation,
            artifact_sha256=actual,
            from_cache=False,
            trained_at=manifest.trained_at.astimezone(timezone.utc),
            loaded_from=version_dir,
        ),
        feature_count=manifest.feature_count,
    )
    _check_servable(served, version_dir)
    return served


def write_model(
    root: Path,
    name: str,
    version: str,
    estimator: Any,
    *,
    input_kind: InputKind,
    description: str,
    evaluation: Evaluation,
    feature_count: int | None = None,
    trained_at: datetime | None = None,
) -> Path:
    """Writes a fitted estimator and its manifest into the repository's layout; returns the version's folder.

    The training code of a model calls this (see `examples/train_wine.py`); the result is checked as the service will
    check it, so a model that would stop the start-up is refused here already.
    """
    version_dir = Path(root) / name / version
    _check_name(version_dir.parent)
    _check_version(version_dir)
    version_dir.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    joblib.dump(estimator, buffer)
    artifact = buffer.getvalue()
    manifest = Manifest(
        input_kind=input_kind,
        feature_count=feature_count,
        description=description,
        artifact_sha256=sha256_hex(artifact),
        trained_at=trained_at or datetime.now(timezone.utc),
        evaluation=evaluation,
        scikit_learn=sklearn.__version__,
    )
    (version_dir / ARTIFACT).write_bytes(artifact)
    (version_dir / MANIFEST).write_text(manifest.to_json(), encoding="utf-8")
    try:
        load_version(version_dir)
    except RepositoryError:
        # Nothing is left behind that would stop the service's start-up.
        for written in (version_dir / ARTIFACT, version_dir / MANIFEST):
            written.unlink(missing_ok=True)
        raise
    return version_dir


def version_order(version: str) -> tuple[tuple[int, int | str], ...]:
    """Numbers compare as numbers, the rest as text: 1.9.0 < 1.10.0, 2.0.0-rc1 after 2.0.0's shared prefix."""
    return tuple((0, int(part)) if part.isdigit() else (1, part) for part in re.findall(r"\d+|[^\d.]+", version))


def _check_name(model_dir: Path) -> None:
    if not NAME_PATTERN.match(model_dir.name):
        raise RepositoryError(
            f"{model_dir}: a model name is 1 to 64 lower-case letters, digits, '-' or '_' (as the gateway takes it)"
        )


def _check_version(version_dir: Path) -> None:
    if not VERSION_PATTERN.match(version_dir.name):
        raise RepositoryError(
            f"{version_dir}: a version is a folder named with 1 to 64 letters, digits, '.', '_', '+' or '-'"
        )


def _read_manifest(path: Path) -> Manifest:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise RepositoryError(f"{path}: {error.strerror or error}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise RepositoryError(f"{path}: not JSON: {error}") from None
    try:
        return Manifest.parse(document)
    except ValueError as error:
        raise RepositoryError(f"{path}: {error}") from None


def _check_servable(model: ServedModel, version_dir: Path) -> None:
    estimator = model.trained.estimator
    if not callable(getattr(estimator, "predict_proba", None)) or getattr(estimator, "classes_", None) is None:
        raise RepositoryError(
            f"{version_dir / ARTIFACT}: a {type(estimator).__name__} has no predict_proba or classes_; "
            "serve a fitted classifier (or a pipeline ending in one)"
        )
    expected = getattr(estimator, "n_features_in_", None)
    if model.input_kind == "features" and isinstance(expected, int) and expected != model.feature_count:
        raise RepositoryError(
            f"{version_dir / MANIFEST}: feature_count {model.feature_count}, but the estimator was fitted on "
            f"{expected} features"
        )
    probe: Sequence[Any] = [PROBE_TEXT] if model.input_kind == "text" else [[0.0] * (model.feature_count or 0)]
    try:
        predictions = model.predict(probe)
    except Exception as error:  # noqa: BLE001 - any failure here would be every request's
        raise RepositoryError(
            f"{version_dir}: the estimator cannot predict a {model.input_kind} input as the API passes it: {error}"
        ) from None
    if len(predictions) != 1 or not np.isfinite(predictions[0].score):
        raise RepositoryError(f"{version_dir}: the estimator's answer to a probe input is not one finite probability")

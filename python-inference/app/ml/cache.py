"""On-disk cache of fitted estimators, so only the first start-up pays for training.

A cache entry is valid only for the exact training data, training parameters, scikit-learn
version and Python version that produced it: all of them go into the file name's key.
The cache directory is the service's own (MODEL_CACHE_DIR) and is trusted like its code,
which is what makes unpickling it acceptable.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import pickle
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import sklearn

logger = logging.getLogger(__name__)

CACHE_FORMAT = 1
# A fixed protocol keeps artifact hashes comparable between Python versions that share it.
PICKLE_PROTOCOL = 5


@dataclass(frozen=True)
class Evaluation:
    """What training reports besides the estimator: held-out accuracy and split sizes."""

    held_out_accuracy: float
    train_size: int
    test_size: int


@dataclass(frozen=True)
class TrainedModel:
    estimator: Any
    evaluation: Evaluation
    artifact_sha256: str
    from_cache: bool
    trained_at: datetime  # when the estimator was fitted (UTC); kept in the cache entry, outside the artifact


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def cache_key(name: str, fingerprint: Mapping[str, Any]) -> str:
    material = {
        "format": CACHE_FORMAT,
        "model": name,
        "fingerprint": fingerprint,
        "sklearn": sklearn.__version__,
        "python": f"{sys.version_info.major}.{sys.version_info.minor}",
    }
    return sha256_hex(json.dumps(material, sort_keys=True, default=str).encode("utf-8"))


def load_or_train(
    cache_dir: Path,
    name: str,
    fingerprint: Mapping[str, Any],
    train: Callable[[], tuple[Any, Evaluation]],
) -> TrainedModel:
    """Return the cached model for `fingerprint`, or call `train` and cache its result."""
    key = cache_key(name, fingerprint)
    path = Path(cache_dir) / f"{name}-{key[:24]}.pkl"
    cached = _read(path, key)
    if cached is not None:
        return cached

    estimator, evaluation = train()
    trained_at = datetime.now(timezone.utc)
    artifact = pickle.dumps(estimator, protocol=PICKLE_PROTOCOL)
    artifact_sha256 = sha256_hex(artifact)
    entry = {
        "format": CACHE_FORMAT,
        "key": key,
        "artifact": artifact,
        "artifact_sha256": artifact_sha256,
        "evaluation": evaluation.__dict__,
        "trained_at": trained_at.isoformat(),
    }
    try:
        _write_atomically(path, pickle.dumps(entry, protocol=PICKLE_PROTOCOL))
    except OSError as error:
        # A read-only or full disk costs the next start-up a retrain, not this one its model.
        logger.warning("could not write model cache %s: %s", path, error)
    return TrainedModel(estimator, evaluation, artifact_sha256, from_cache=False, trained_at=trained_at)


def _read(path: Path, key: str) -> TrainedModel | None:
    try:
        entry = pickle.loads(path.read_bytes())
        if entry["format"] != CACHE_FORMAT or entry["key"] != key:
            return None
        artifact: bytes = entry["artifact"]
        if sha256_hex(artifact) != entry["artifact_sha256"]:
            raise ValueError("artifact hash mismatch")
        return TrainedModel(
            estimator=pickle.loads(artifact),
            evaluation=Evaluation(**entry["evaluation"]),
            artifact_sha256=entry["artifact_sha256"],
            from_cache=True,
            trained_at=_trained_at(entry, path),
        )
    except FileNotFoundError:
        return None
    except Exception as error:  # noqa: BLE001 - any unreadable entry just means "train again"
        logger.warning("ignoring unreadable model cache %s: %s", path, error)
        return None


def _trained_at(entry: Mapping[str, Any], path: Path) -> datetime:
    """The entry's training time; entries written before it was recorded date from their file."""
    recorded = entry.get("trained_at")
    if isinstance(recorded, str):
        return datetime.fromisoformat(recorded)
    return datetime.fromtimestamp(path.stat().st_mtime, timezone.utc)


def _write_atomically(path: Path, data: bytes) -> None:
    """Readers (other workers starting at the same time) see the old file or the whole new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as temp:
            temp.write(data)
            temp.flush()
            os.fsync(temp.fileno())
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise

"""On-disk cache of fitted estimators, so only the first start-up pays for training.

A cache entry is valid only for the exact training data, training parameters, scikit-learn
version and Python version that produced it: all of them go into the file name's key.

An entry is two files: `<name>-<key>.json` (what training reported, and an HMAC-SHA256 of the
artifact) and `<name>-<key>.pkl` (the pickled estimator, nothing else). Nothing is unpickled
before the artifact's HMAC checks out, and the HMAC key is not in the cache directory: it is
the file `<MODEL_CACHE_DIR>.key` beside it (32 random bytes, mode 0600, made on first use). So
whoever can write the cache directory but not that file cannot make the service unpickle
bytes of their choosing; a forged, truncated or foreign entry is only a retrain.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import pickle
import secrets
import stat
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import sklearn

logger = logging.getLogger(__name__)

# 2: metadata as JSON beside the bare artifact, authenticated with the key file (1 was one pickled dict).
CACHE_FORMAT = 2
KEY_BYTES = 32
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
    loaded_from: Path | None = None  # the model repository's version folder it came from (app/ml/repository.py)


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
    stem = Path(cache_dir) / f"{name}-{key[:24]}"
    secret = cache_secret(Path(cache_dir))
    cached = _read(stem, key, secret) if secret is not None else None
    if cached is not None:
        return cached

    estimator, evaluation = train()
    trained_at = datetime.now(timezone.utc)
    artifact = pickle.dumps(estimator, protocol=PICKLE_PROTOCOL)
    artifact_sha256 = sha256_hex(artifact)
    if secret is not None:
        entry = {
            "format": CACHE_FORMAT,
            "key": key,
            "artifact_sha256": artifact_sha256,
            "artifact_hmac": _mac(secret, artifact),
            "evaluation": evaluation.__dict__,
            "trained_at": trained_at.isoformat(),
        }
        try:
            # The artifact first: metadata that exists names an artifact that was complete when it was written.
            _write_atomically(Path(f"{stem}.pkl"), artifact)
            _write_atomically(Path(f"{stem}.json"), json.dumps(entry, sort_keys=True).encode("utf-8"))
        except OSError as error:
            # A read-only or full disk costs the next start-up a retrain, not this one its model.
            logger.warning("could not write model cache %s: %s", stem, error)
    return TrainedModel(estimator, evaluation, artifact_sha256, from_cache=False, trained_at=trained_at)


def key_path(cache_dir: Path) -> Path:
    """The cache's HMAC key: beside the cache directory, never in it."""
    return cache_dir.parent / f"{cache_dir.name}.key"


def cache_secret(cache_dir: Path) -> bytes | None:
    """The key that authenticates cache entries, made on first use; None (no caching) if it cannot be trusted."""
    path = key_path(cache_dir)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "wb") as key_file:
                key_file.write(secrets.token_bytes(KEY_BYTES))
                key_file.flush()
                os.fsync(key_file.fileno())
        status = path.lstat()
        if not stat.S_ISREG(status.st_mode) or status.st_uid != os.getuid() or status.st_mode & 0o077:
            logger.warning("ignoring the model cache: its key %s is not a private file of this user", path)
            return None
        secret = path.read_bytes()
    except OSError as error:
        logger.warning("model cache disabled: its key %s is unusable: %s", path, error)
        return None
    if len(secret) != KEY_BYTES:
        # Another process is still writing it (or it is damaged): train now, cache next time.
        return None
    return secret


def _mac(secret: bytes, artifact: bytes) -> str:
    return hmac.new(secret, artifact, hashlib.sha256).hexdigest()


def _read(stem: Path, key: str, secret: bytes) -> TrainedModel | None:
    try:
        entry = json.loads(Path(f"{stem}.json").read_bytes())
        if entry["format"] != CACHE_FORMAT or entry["key"] != key:
            return None
        artifact = Path(f"{stem}.pkl").read_bytes()
        if not hmac.compare_digest(_mac(secret, artifact), str(entry["artifact_hmac"])):
            raise ValueError("artifact HMAC mismatch")
        if sha256_hex(artifact) != entry["artifact_sha256"]:
            raise ValueError("artifact hash mismatch")
        return TrainedModel(
            estimator=pickle.loads(artifact),  # authenticated above: written by this service with its key
            evaluation=Evaluation(**entry["evaluation"]),
            artifact_sha256=entry["artifact_sha256"],
            from_cache=True,
            trained_at=_trained_at(entry, Path(f"{stem}.json")),
        )
    except FileNotFoundError:
        return None
    except Exception as error:  # noqa: BLE001 - any unreadable entry just means "train again"
        logger.warning("ignoring unreadable model cache %s: %s", stem, error)
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

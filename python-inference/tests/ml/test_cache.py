"""The model cache never unpickles what it did not write itself (app/ml/cache.py)."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import stat
from pathlib import Path

import pytest

from app.ml import cache
from app.ml.cache import Evaluation, load_or_train

FINGERPRINT = {"data": "tiny"}


def _touch(path: str) -> None:
    Path(path).write_text("unpickled")


class _Payload:
    """Unpickling this runs code: it writes the marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (_touch, (str(self.marker),))


def _train() -> tuple[object, Evaluation]:
    return {"weights": [1, 2, 3]}, Evaluation(held_out_accuracy=1.0, train_size=3, test_size=1)


def _must_not_train() -> tuple[object, Evaluation]:
    raise AssertionError("retrained although the cache was valid")


def test_a_cached_model_loads_without_training(tmp_path: Path) -> None:
    first = load_or_train(tmp_path / "cache", "tiny", FINGERPRINT, _train)
    second = load_or_train(tmp_path / "cache", "tiny", FINGERPRINT, _must_not_train)

    assert first.from_cache is False
    assert second.from_cache is True
    assert second.estimator == {"weights": [1, 2, 3]}
    assert second.artifact_sha256 == first.artifact_sha256


def test_a_replaced_artifact_is_never_unpickled_even_with_a_matching_hash(tmp_path: Path) -> None:
    cache_dir = tmp_path / "cache"
    load_or_train(cache_dir, "tiny", FINGERPRINT, _train)
    marker = tmp_path / "marker"
    hostile = pickle.dumps(_Payload(marker))
    # Someone who can write the cache directory replaces every artifact and fixes up every hash they can see.
    for artifact in cache_dir.glob("*.pkl"):
        artifact.write_bytes(hostile)
    for metadata in cache_dir.glob("*.json"):
        entry = json.loads(metadata.read_text())
        entry["artifact_sha256"] = hashlib.sha256(hostile).hexdigest()
        metadata.write_text(json.dumps(entry))

    reloaded = load_or_train(cache_dir, "tiny", FINGERPRINT, _train)

    assert not marker.exists()
    assert reloaded.from_cache is False  # retrained instead
    assert reloaded.estimator == {"weights": [1, 2, 3]}


def test_the_metadata_is_json_and_the_key_is_a_private_file_outside_the_cache_directory(tmp_path: Path) -> None:
    cache_dir = tmp_path / "cache"
    load_or_train(cache_dir, "tiny", FINGERPRINT, _train)

    key = cache.key_path(cache_dir)
    assert key.parent == cache_dir.parent
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert len(key.read_bytes()) == cache.KEY_BYTES
    (metadata,) = cache_dir.glob("*.json")
    entry = json.loads(metadata.read_text())
    assert entry["key"] == cache.cache_key("tiny", FINGERPRINT)
    assert sorted(path.suffix for path in cache_dir.iterdir()) == [".json", ".pkl"]


def test_a_key_others_can_read_disables_the_cache(tmp_path: Path) -> None:
    cache_dir = tmp_path / "cache"
    load_or_train(cache_dir, "tiny", FINGERPRINT, _train)
    os.chmod(cache.key_path(cache_dir), 0o644)

    assert cache.cache_secret(cache_dir) is None
    assert load_or_train(cache_dir, "tiny", FINGERPRINT, _train).from_cache is False


def test_entries_of_another_key_are_not_trusted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache_dir = tmp_path / "cache"
    load_or_train(cache_dir, "tiny", FINGERPRINT, _train)
    cache.key_path(cache_dir).unlink()  # a new key: every entry written with the old one is a stranger's

    assert load_or_train(cache_dir, "tiny", FINGERPRINT, _train).from_cache is False

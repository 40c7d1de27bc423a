"""The model repository: models trained elsewhere, checked before they are served, refused with a reason."""

from __future__ import annotations

import json
import pickle
from datetime import datetime, timezone
from pathlib import Path

import pytest
import sklearn
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.svm import LinearSVC

from app.core.config import BUILT_IN_MODELS
from app.ml.cache import Evaluation
from app.ml.registry import BUILT_IN_LOADERS, VersionNotFoundError, load_models
from app.ml.repository import (
    ARTIFACT,
    MANIFEST,
    RepositoryError,
    load_repository,
    load_version,
    version_order,
    write_model,
)
from examples import train_wine
from tests.support import FIRST_WINE

EVALUATION = Evaluation(held_out_accuracy=0.9, train_size=6, test_size=2)
SENTENCES = ["what a lovely day", "this is wonderful", "awful and broken", "terrible, never again"]
MOODS = ["good", "good", "bad", "bad"]


def text_model() -> Pipeline:
    return Pipeline([("tfidf", TfidfVectorizer()), ("classifier", LogisticRegression())]).fit(SENTENCES, MOODS)


def write_text_model(root: Path, name: str = "mood", version: str = "1.0.0") -> Path:
    return write_model(root, name, version, text_model(), input_kind="text", description="Mood.", evaluation=EVALUATION)


def write_wine(root: Path) -> Path:
    assert train_wine.main([str(root)]) == 0
    return root / "wine" / "1.0.0"


def manifest_of(version_dir: Path) -> dict:
    return json.loads((version_dir / MANIFEST).read_text())


def rewrite_manifest(version_dir: Path, **changes: object) -> None:
    document = manifest_of(version_dir)
    for key, value in changes.items():
        if value is None:
            document.pop(key, None)
        else:
            document[key] = value
    (version_dir / MANIFEST).write_text(json.dumps(document))


def test_the_example_is_served_as_its_manifest_says(tmp_path: Path) -> None:
    version_dir = write_wine(tmp_path)

    [wine] = load_repository(tmp_path)

    assert (wine.name, wine.version, wine.input_kind, wine.feature_count) == ("wine", "1.0.0", "features", 13)
    assert wine.labels == ["class_0", "class_1", "class_2"]
    assert wine.trained.loaded_from == version_dir
    assert wine.trained.evaluation == Evaluation(**manifest_of(version_dir)["evaluation"])
    assert wine.trained.evaluation.held_out_accuracy > 0.9
    assert wine.trained.artifact_sha256 == manifest_of(version_dir)["artifact_sha256"]
    assert wine.trained.trained_at.tzinfo is not None
    [prediction] = wine.predict([FIRST_WINE])
    assert prediction.label == "class_0" and 0.5 < prediction.score <= 1.0


def test_a_text_model_takes_the_texts_as_the_api_passes_them(tmp_path: Path) -> None:
    trained_at = datetime(2026, 12, 1, 9, 30, tzinfo=timezone.utc)
    write_model(tmp_path, "mood", "1.0.0", text_model(), input_kind="text", description="Mood.",
                evaluation=EVALUATION, trained_at=trained_at)

    [mood] = load_repository(tmp_path)

    assert (mood.input_kind, mood.feature_count, mood.trained.trained_at) == ("text", None, trained_at)
    assert [p.label for p in mood.predict(["lovely and wonderful", "broken, awful"])] == ["good", "bad"]


def test_versions_load_in_natural_order() -> None:
    versions = ["2.0.0", "1.10.0", "1.9.0", "1.9.0-rc1", "10"]

    assert sorted(versions, key=version_order) == ["1.9.0", "1.9.0-rc1", "1.10.0", "2.0.0", "10"]


def test_a_repository_lists_every_version_of_every_model_in_order(tmp_path: Path) -> None:
    for version in ("1.10.0", "1.9.0"):
        write_text_model(tmp_path, "mood", version)
    write_text_model(tmp_path, "another", "1")

    assert [(m.name, m.version) for m in load_repository(tmp_path)] == [
        ("another", "1"), ("mood", "1.9.0"), ("mood", "1.10.0"),
    ]


def test_an_artifact_the_manifest_does_not_name_is_never_unpickled(tmp_path: Path) -> None:
    version_dir = write_text_model(tmp_path)
    marker = tmp_path / "unpickled"

    class Payload:
        def __reduce__(self):  # what unpickling would run
            return (Path.touch, (marker,))

    (version_dir / ARTIFACT).write_bytes(pickle.dumps(Payload()))

    with pytest.raises(RepositoryError, match="is not the manifest's artifact_sha256"):
        load_repository(tmp_path)
    assert not marker.exists()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"input_kind": "image"}, "input_kind: 'text' or 'features'"),
        ({"feature_count": 3}, "feature_count: only for input_kind 'features'"),
        ({"description": ""}, "description: 1 to 1000 characters"),
        ({"artifact_sha256": "ABC"}, "artifact_sha256: the SHA-256 of model.joblib"),
        ({"trained_at": "2026-12-06T08:00:00"}, "trained_at: an ISO 8601 time with its offset"),
        ({"trained_at": None}, "trained_at: an ISO 8601 time with its offset"),
        ({"evaluation": {"held_out_accuracy": 1.5, "train_size": 1, "test_size": 1}},
         "evaluation.held_out_accuracy: a number from 0 to 1"),
        ({"evaluation": {"held_out_accuracy": 0.5, "train_size": 0, "test_size": True}},
         "evaluation.train_size: a whole number of at least 1; evaluation.test_size"),
        ({"evaluation": {"held_out_accuracy": 0.5}}, "evaluation: an object of held_out_accuracy, train_size and"),
        ({"labels": ["good"]}, "unknown field(s) labels"),
        ({"scikit_learn": ""}, "scikit_learn: the version that wrote the artifact"),
    ],
)
def test_a_manifest_that_is_wrong_stops_the_load_naming_the_field(
    tmp_path: Path, changes: dict, message: str
) -> None:
    version_dir = write_text_model(tmp_path)
    rewrite_manifest(version_dir, **changes)

    with pytest.raises(RepositoryError) as raised:
        load_repository(tmp_path)
    assert str(version_dir / MANIFEST) in str(raised.value)
    assert message in str(raised.value)


def test_a_features_model_needs_its_feature_count(tmp_path: Path) -> None:
    version_dir = write_wine(tmp_path)
    rewrite_manifest(version_dir, feature_count=None)

    with pytest.raises(RepositoryError, match="feature_count: a whole number from 1 to 10000, required"):
        load_repository(tmp_path)


def test_a_feature_count_the_estimator_was_not_fitted_on_is_refused(tmp_path: Path) -> None:
    version_dir = write_wine(tmp_path)
    rewrite_manifest(version_dir, feature_count=12)

    with pytest.raises(RepositoryError, match="feature_count 12, but the estimator was fitted on 13 features"):
        load_repository(tmp_path)


def test_a_model_declared_as_text_that_takes_features_fails_its_probe(tmp_path: Path) -> None:
    version_dir = write_wine(tmp_path)
    rewrite_manifest(version_dir, input_kind="text", feature_count=None)

    with pytest.raises(RepositoryError, match="cannot predict a text input as the API passes it"):
        load_repository(tmp_path)


def test_an_estimator_without_probabilities_is_refused_when_written_and_nothing_is_left_behind(tmp_path: Path) -> None:
    svm = Pipeline([("tfidf", TfidfVectorizer()), ("classifier", LinearSVC())]).fit(SENTENCES, MOODS)

    with pytest.raises(RepositoryError, match="has no predict_proba or classes_"):
        write_model(tmp_path, "mood", "1.0.0", svm, input_kind="text", description="Mood.", evaluation=EVALUATION)
    assert not [path for path in tmp_path.rglob("*") if path.is_file()]


@pytest.mark.parametrize(("name", "version"), [("Mood", "1.0.0"), ("mood", "1 0"), ("mood", "../1.0.0")])
def test_a_name_or_version_the_service_would_refuse_is_refused_before_anything_is_written(
    tmp_path: Path, name: str, version: str
) -> None:
    with pytest.raises(RepositoryError, match="a model name is|a version is a folder named"):
        write_model(
            tmp_path, name, version, text_model(), input_kind="text", description="Mood.", evaluation=EVALUATION
        )
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda root: (root / "Mood" / "1.0.0").mkdir(parents=True), "a model name is 1 to 64 lower-case letters"),
        (lambda root: (root / "mood").mkdir(), "no version folder in it"),
        (lambda root: (root / "mood.joblib").write_bytes(b""), "expected a folder per model"),
        (lambda root: (root / "mood" / "1 0").mkdir(parents=True), "a version is a folder named with 1 to 64"),
        (lambda root: (root / "mood" / "1.0.0").mkdir(parents=True), "model.json: No such file or directory"),
    ],
)
def test_a_repository_laid_out_wrongly_stops_the_load(tmp_path: Path, make, message: str) -> None:
    make(tmp_path)

    with pytest.raises(RepositoryError, match=message):
        load_repository(tmp_path)


def test_hidden_entries_are_skipped_and_a_missing_repository_is_an_error(tmp_path: Path) -> None:
    (tmp_path / ".cache").mkdir()
    write_text_model(tmp_path)
    (tmp_path / "mood" / ".partial").mkdir()

    assert [m.version for m in load_repository(tmp_path)] == ["1.0.0"]
    with pytest.raises(RepositoryError, match="not a directory"):
        load_repository(tmp_path / "absent")


def test_a_missing_artifact_is_named(tmp_path: Path) -> None:
    version_dir = write_text_model(tmp_path)
    (version_dir / ARTIFACT).unlink()

    with pytest.raises(RepositoryError, match="model.joblib: No such file or directory"):
        load_version(version_dir)


def test_repository_models_join_the_built_in_ones(tmp_path: Path, model_cache_dir: Path) -> None:
    write_wine(tmp_path)
    write_model(tmp_path, "sentiment", "3.0.0", text_model(), input_kind="text", description="Sentiment, retrained.",
                evaluation=EVALUATION)
    write_text_model(tmp_path, "mood", "1.9.0")
    write_text_model(tmp_path, "mood", "1.10.0")

    registry = load_models(model_cache_dir, {"sentiment": "1.0.0"}, tmp_path)

    served = {m.name: m.version for m in registry}
    assert served == {"iris": "1.0.0", "mood": "1.10.0", "sentiment": "1.0.0", "wine": "1.0.0"}
    assert [m.version for m in registry.versions("sentiment")] == ["1.0.0", "2.0.0", "3.0.0"]
    assert registry.activate("sentiment", "3.0.0") is True
    assert registry.get("sentiment").predict(["lovely"])[0].label in {"good", "bad"}


def test_only_the_built_in_models_asked_for_are_served_beside_the_repository(tmp_path: Path, model_cache_dir: Path) -> None:
    write_wine(tmp_path)
    write_model(tmp_path, "sentiment", "3.0.0", text_model(), input_kind="text", description="Sentiment, our own.",
                evaluation=EVALUATION)

    # None of them: the repository's alone, its sentiment served at its own highest version, or the one asked for; a
    # version it does not have stops the load.
    own = load_models(model_cache_dir, None, tmp_path, built_ins=())
    assert {m.name: m.version for m in own} == {"sentiment": "3.0.0", "wine": "1.0.0"}
    assert [m.version for m in own.versions("sentiment")] == ["3.0.0"]
    write_model(tmp_path, "sentiment", "3.1.0", text_model(), input_kind="text", description="Sentiment, newer.",
                evaluation=EVALUATION)
    assert load_models(model_cache_dir, {"sentiment": "3.0.0"}, tmp_path, built_ins=()).get("sentiment").version == "3.0.0"
    assert load_models(model_cache_dir, None, tmp_path, built_ins=()).get("sentiment").version == "3.1.0"
    with pytest.raises(VersionNotFoundError):
        load_models(model_cache_dir, {"sentiment": "1.0.0"}, tmp_path, built_ins=())

    # Some of them, with or without a repository.
    assert {m.name for m in load_models(model_cache_dir, None, tmp_path, built_ins=["iris"])} == {"iris", "sentiment", "wine"}
    assert {m.name: m.version for m in load_models(model_cache_dir, {"sentiment": "1.0.0"}, None, built_ins=["iris"])} == {
        "iris": "1.0.0"
    }


def test_every_built_in_model_the_settings_accept_has_its_loaders_and_no_other() -> None:
    assert set(BUILT_IN_LOADERS) == set(BUILT_IN_MODELS)


def test_nothing_to_serve_stops_the_load(tmp_path: Path, model_cache_dir: Path) -> None:
    with pytest.raises(RepositoryError, match="no model in it, and no built-in model asked for"):
        load_models(model_cache_dir, None, tmp_path, built_ins=())  # an empty repository
    with pytest.raises(RepositoryError, match="nothing to serve"):
        load_models(model_cache_dir, None, None, built_ins=[])


def test_a_repository_version_that_is_a_built_in_one_is_refused(tmp_path: Path, model_cache_dir: Path) -> None:
    write_model(tmp_path, "sentiment", "2.0.0", text_model(), input_kind="text", description="A clash.",
                evaluation=EVALUATION)

    with pytest.raises(RepositoryError, match="sentiment 2.0.0 is a built-in version"):
        load_models(model_cache_dir, None, tmp_path)


def test_the_scikit_learn_that_wrote_an_artifact_is_recorded_and_another_one_is_warned_of(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    version_dir = write_text_model(tmp_path)
    assert manifest_of(version_dir)["scikit_learn"] == sklearn.__version__
    with caplog.at_level("WARNING", logger="app.ml.repository"):
        load_repository(tmp_path)
    assert not caplog.records

    rewrite_manifest(version_dir, scikit_learn="0.24.2")
    with caplog.at_level("WARNING", logger="app.ml.repository"):
        [mood] = load_repository(tmp_path)
    assert mood.predict(["lovely"])[0].label in {"good", "bad"}  # a warning, not a refusal
    [warning] = caplog.records
    assert f"written by scikit-learn 0.24.2 and is loaded by {sklearn.__version__}" in warning.getMessage()

"""The model registry: every version held, one served per model, switched by one reference swap."""

from __future__ import annotations

import pytest

from app.ml.model import ServedModel
from app.ml.registry import ModelNotFoundError, ModelRegistry, VersionNotFoundError


def test_it_holds_every_version_and_serves_1_0_0_of_sentiment_by_default(registry: ModelRegistry) -> None:
    assert [m.version for m in registry.versions("sentiment")] == ["1.0.0", "2.0.0"]
    assert [m.version for m in registry.versions("iris")] == ["1.0.0"]
    assert {m.name: m.version for m in registry} == {"sentiment": "1.0.0", "iris": "1.0.0"}
    assert [(m.name, m.version) for m in registry.all_versions()] == [
        ("iris", "1.0.0"),
        ("sentiment", "1.0.0"),
        ("sentiment", "2.0.0"),
    ]


def test_a_default_version_is_served_first(registry: ModelRegistry) -> None:
    fresh = ModelRegistry(registry.all_versions(), {"sentiment": "2.0.0"})

    assert fresh.get("sentiment").version == "2.0.0"


def test_an_unknown_default_version_fails(registry: ModelRegistry) -> None:
    with pytest.raises(VersionNotFoundError):
        ModelRegistry(registry.all_versions(), {"sentiment": "9.9.9"})


def test_activate_switches_the_served_version_and_reports_whether_it_changed(registry: ModelRegistry) -> None:
    fresh = ModelRegistry(registry.all_versions())
    before: ServedModel = fresh.get("sentiment")

    assert fresh.activate("sentiment", "2.0.0") is True
    assert fresh.activate("sentiment", "2.0.0") is False
    assert fresh.get("sentiment").version == "2.0.0"
    assert before.version == "1.0.0"  # a request holding the old model keeps it, whole
    assert fresh.get("iris").version == "1.0.0"


def test_activate_an_unknown_version_or_model_changes_nothing(registry: ModelRegistry) -> None:
    fresh = ModelRegistry(registry.all_versions())

    with pytest.raises(VersionNotFoundError) as unknown_version:
        fresh.activate("sentiment", "3.0.0")
    with pytest.raises(ModelNotFoundError):
        fresh.activate("nope", "1.0.0")

    assert unknown_version.value.known == ["1.0.0", "2.0.0"]
    assert fresh.get("sentiment").version == "1.0.0"

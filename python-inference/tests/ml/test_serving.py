"""The serving core (app/ml/serving.py) that the HTTP routes and the gRPC servicer both translate onto: what it
checks, in which order, what it answers and what it counts. tests/api and tests/rpc check the two translations."""

from __future__ import annotations

import asyncio
import dataclasses
import time
import inspect
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from app.core.config import Settings
from app.core.problems import ProblemError
from app.core.telemetry import Tracer
from app.ml.counter import ModelVersion, PredictionCounter
from app.ml.registry import ModelRegistry
from app.ml.serving import MISSING, ModelServing, Predictions
from tests.support import SETOSA, VERSICOLOR, VIRGINICA, RecordingExporter

POSITIVE = "I absolutely loved this movie, the acting was wonderful."  # from tests/ml/data/unseen_sentences.tsv


@pytest.fixture
def counter() -> PredictionCounter:
    return PredictionCounter(flush_threshold=10**9)


@pytest.fixture
def serving(settings: Settings, registry: ModelRegistry, counter: PredictionCounter) -> ModelServing:
    """A core over a registry of its own, so switching versions affects no other test."""
    return ModelServing(ModelRegistry(registry.all_versions()), settings, Tracer(), counter)


def problem(call: Callable[[], Any]) -> ProblemError:
    with pytest.raises(ProblemError) as raised:
        result = call()
        if inspect.isawaitable(result):
            asyncio.run(result)
    return raised.value


async def collect(stream: Awaitable[AsyncIterator[Predictions]]) -> list[Predictions]:
    return [chunk async for chunk in await stream]


def test_a_batch_is_answered_in_order_by_the_served_version_and_counted(
    serving: ModelServing, counter: PredictionCounter
) -> None:
    answered = asyncio.run(serving.predict_batch("iris", [SETOSA, VIRGINICA, VERSICOLOR, SETOSA]))

    assert (answered.model, answered.version, answered.offset) == ("iris", "1.0.0", 0)
    assert [p.label for p in answered.predictions] == ["setosa", "virginica", "versicolor", "setosa"]
    assert counter.take() == {ModelVersion("iris", "1.0.0"): Counter(setosa=2, virginica=1, versicolor=1)}


def test_the_answer_reports_the_version_that_gave_it(serving: ModelServing, counter: PredictionCounter) -> None:
    serving.registry.activate("sentiment", "2.0.0")

    answered = asyncio.run(serving.predict_one("sentiment", POSITIVE, field="text"))

    assert (answered.version, [p.label for p in answered.predictions]) == ("2.0.0", ["positive"])
    assert list(counter.take()) == [ModelVersion("sentiment", "2.0.0")]


def test_not_ready_comes_before_the_model_lookup(settings: Settings, counter: PredictionCounter) -> None:
    empty = ModelServing(ModelRegistry(), settings, Tracer(), counter)

    for call in (lambda: empty.predict_batch("unicorn", []), lambda: empty.models()):
        error = problem(call)
        assert (error.status, error.code) == (503, "not_ready")


def test_an_unknown_model_is_model_not_found_naming_the_known_ones(serving: ModelServing) -> None:
    error = problem(lambda: serving.predict_one("unicorn", MISSING, field="input"))  # the lookup comes first

    assert (error.status, error.code) == (404, "model_not_found")
    assert error.detail == "Unknown model 'unicorn'. Known models: iris, sentiment."


def test_a_missing_single_input_is_required_under_its_field(serving: ModelServing) -> None:
    error = problem(lambda: serving.predict_one("sentiment", MISSING, field="input"))

    assert (error.code, error.errors) == ("validation_failed", {"input": ["is required"]})


@pytest.mark.parametrize(
    ("inputs", "code", "errors"),
    [
        ([], "validation_failed", {"inputs": ["must contain at least 1 item"]}),
        ([[1, 2, 3, 4]] * 101, "batch_too_large", None),
        (
            [SETOSA, "petals", [1, 2, 3], SETOSA],
            "validation_failed",
            {
                "inputs[1]": ["must be a list of 4 numbers, got string"],
                "inputs[2]": ["must be a list of 4 numbers, got 3 items"],
            },
        ),
    ],
)
def test_a_bad_batch_is_refused_with_every_bad_input_and_nothing_is_counted(
    serving: ModelServing, counter: PredictionCounter, inputs: list[object], code: str, errors: object
) -> None:
    error = problem(lambda: serving.predict_batch("iris", inputs))

    assert (error.status, error.code, error.errors) == (400, code, errors)
    assert counter.pending == 0


def test_a_stream_checks_every_input_before_the_first_answer(serving: ModelServing, counter: PredictionCounter) -> None:
    inputs: list[object] = [POSITIVE] * 250 + [""]

    error = problem(lambda: serving.predict_stream("sentiment", inputs))

    assert error.errors == {"inputs[250]": ["must not be empty or whitespace only"]}
    assert counter.pending == 0


def test_a_stream_answers_max_batch_size_at_a_time_with_offsets(
    serving: ModelServing, counter: PredictionCounter, settings: Settings
) -> None:
    chunks = asyncio.run(collect(serving.predict_stream("sentiment", [POSITIVE] * (2 * settings.MAX_BATCH_SIZE + 5))))

    assert [(c.offset, len(c.predictions)) for c in chunks] == [(0, 100), (100, 100), (200, 5)]
    assert counter.pending == 205


def test_each_prediction_runs_under_a_span_naming_model_version_and_batch_size(
    settings: Settings, registry: ModelRegistry, counter: PredictionCounter
) -> None:
    exporter = RecordingExporter()
    serving = ModelServing(registry, settings, Tracer(exporter), counter)

    asyncio.run(serving.predict_batch("iris", [SETOSA, VIRGINICA]))

    [span] = exporter.spans
    assert span.name == "predict iris"
    assert span.attributes == {"ml.model.name": "iris", "ml.model.version": "1.0.0", "ml.batch.size": 2}


def test_models_lists_the_served_version_of_each_with_every_loaded_version(serving: ModelServing) -> None:
    serving.registry.activate("sentiment", "2.0.0")

    models = {m.name: m for m in serving.models()}

    assert sorted(models) == ["iris", "sentiment"]
    assert models["sentiment"].version == "2.0.0"
    assert [(v.version, v.served) for v in models["sentiment"].versions] == [("1.0.0", False), ("2.0.0", True)]


def test_an_injected_fault_delay_holds_every_model_call(
    settings: Settings, registry: ModelRegistry, counter: PredictionCounter
) -> None:
    slow = ModelServing(
        ModelRegistry(registry.all_versions()),
        dataclasses.replace(settings, ENVIRONMENT="Development", FAULT_PREDICTION_DELAY=0.3),
        Tracer(),
        counter,
    )

    started = time.perf_counter()
    answered = asyncio.run(slow.predict_batch("iris", [SETOSA]))

    assert time.perf_counter() - started >= 0.3
    assert [p.label for p in answered.predictions] == ["setosa"]

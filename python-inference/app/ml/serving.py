"""The serving core behind both entrances (HTTP routes in app/api/routes, gRPC in app/rpc/inference.py): readiness,
model lookup, the checks on a batch (the same checks in the same order with the same messages), the prediction under
a span, the version that answered, and the prediction.made count. The checks run on the event loop; the model itself on
the bounded pool of app/ml/executor.py, so the loop keeps serving while it works. Problems are raised as ProblemError
(app/core/problems.py); each entrance turns them into its own error form (problem details, gRPC status)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from time import perf_counter
from typing import Any, Final

from app.core.config import Settings
from app.core.problems import batch_too_large, model_not_found, not_ready, validation_failed
from app.core.telemetry import Tracer, instruments
from app.ml.counter import PredictionCounter
from app.ml.executor import ModelExecutor
from app.ml.inputs import input_error
from app.ml.model import Prediction, ServedModel
from app.ml.registry import ModelNotFoundError, ModelRegistry
from app.schemas.models import ModelInfo, ModelVersionInfo

MISSING: Final = object()  # a single input the caller did not send at all


@dataclass(frozen=True)
class Predictions:
    """What one model version answered for a batch, or for the part of it starting at `offset`."""

    model: str
    version: str
    predictions: list[Prediction]
    offset: int = 0


class ModelServing:
    def __init__(
        self,
        registry: ModelRegistry,
        settings: Settings,
        tracer: Tracer,
        counter: PredictionCounter,
        executor: ModelExecutor | None = None,
    ) -> None:
        self.registry = registry
        self.settings = settings
        self.tracer = tracer
        self.counter = counter
        self.executor = executor or ModelExecutor(settings.MODEL_THREADS)

    @property
    def ready(self) -> bool:
        return self.registry.ready

    def require_ready(self) -> None:
        if not self.registry.ready:
            raise not_ready()

    def model(self, name: str) -> ServedModel:
        """The served version of `name`, resolved once per request so the answer reports the version that gave it."""
        self.require_ready()
        try:
            return self.registry.get(name)
        except ModelNotFoundError as error:
            raise model_not_found(error.name, error.known) from None

    async def predict_one(self, model_name: str, value: Any, *, field: str) -> Predictions:
        """One input, reported under `field`; `MISSING` when the caller sent none."""
        model = self.model(model_name)
        if value is MISSING:
            raise validation_failed({field: ["is required"]})
        check_inputs(model, [value], self.settings, path=lambda _: field)
        return await self._predict(model, [value])

    async def predict_batch(self, model_name: str, inputs: Sequence[Any]) -> Predictions:
        """1..MAX_BATCH_SIZE inputs, reported as `inputs[i]`."""
        model = self.model(model_name)
        check_batch(model, inputs, self.settings, max_batch_size=self.settings.MAX_BATCH_SIZE)
        return await self._predict(model, inputs)

    async def predict_stream(self, model_name: str, inputs: Sequence[Any]) -> AsyncIterator[Predictions]:
        """Any number of inputs: all are checked now, before the first answer; then MAX_BATCH_SIZE at a time."""
        model = self.model(model_name)
        check_batch(model, inputs, self.settings, max_batch_size=len(inputs))
        return self._chunks(model, inputs)

    def models(self) -> list[ModelInfo]:
        """The served version of each model, with every loaded version of it."""
        self.require_ready()
        return [model_info(model, self.registry.versions(model.name)) for model in self.registry]

    async def _chunks(self, model: ServedModel, inputs: Sequence[Any]) -> AsyncIterator[Predictions]:
        chunk = self.settings.MAX_BATCH_SIZE
        for offset in range(0, len(inputs), chunk):
            yield await self._predict(model, inputs[offset : offset + chunk], offset)

    async def _predict(self, model: ServedModel, inputs: Sequence[Any], offset: int = 0) -> Predictions:
        """Predict checked inputs on a model thread and count them for the prediction.made events. The span includes
        any wait for a free thread; `inference.model.duration` is the model's own time."""
        attributes = {"ml.model.name": model.name, "ml.model.version": model.version, "ml.batch.size": len(inputs)}
        with self.tracer.start_as_current_span(f"predict {model.name}", attributes=attributes):
            if self.settings.FAULT_PREDICTION_DELAY:
                await asyncio.sleep(self.settings.FAULT_PREDICTION_DELAY)  # injected by the chaos run only
            predictions, elapsed = await self.executor.run(_timed_predict, model, inputs)
        measured = {"model.name": model.name, "model.version": model.version}
        instruments.MODEL_DURATION.record(elapsed, measured)
        instruments.MODEL_BATCH_SIZE.record(len(inputs), measured)
        # In memory only; published later, in aggregate, as prediction.made events (app/messaging/publisher.py).
        self.counter.record(model.name, model.version, (p.label for p in predictions))
        return Predictions(model.name, model.version, predictions, offset)


def _timed_predict(model: ServedModel, inputs: Sequence[Any]) -> tuple[list[Prediction], float]:
    started = perf_counter()
    predictions = model.predict(inputs)
    return predictions, perf_counter() - started


def check_batch(
    model: ServedModel,
    inputs: Sequence[Any],
    settings: Settings,
    *,
    max_batch_size: int,
) -> None:
    """Raise the batch's problem: no inputs, more than `max_batch_size`, bad inputs."""
    if not inputs:
        raise validation_failed({"inputs": ["must contain at least 1 item"]})
    if len(inputs) > max_batch_size:
        raise batch_too_large(len(inputs), max_batch_size)
    check_inputs(model, inputs, settings, path=lambda index: f"inputs[{index}]")


def check_inputs(model: ServedModel, inputs: Sequence[Any], settings: Settings, *, path: Callable[[int], str]) -> None:
    """Report every bad input at once, each under its field path."""
    errors: dict[str, list[str]] = {}
    for index, value in enumerate(inputs):
        message = input_error(model, value, max_text_length=settings.MAX_TEXT_LENGTH)
        if message:
            errors.setdefault(path(index), []).append(message)
    if errors:
        raise validation_failed(errors)


def model_info(served: ServedModel, versions: list[ServedModel]) -> ModelInfo:
    evaluation = served.trained.evaluation
    return ModelInfo(
        name=served.name,
        version=served.version,
        input_kind=served.input_kind,
        feature_count=served.feature_count,
        labels=served.labels,
        held_out_accuracy=evaluation.held_out_accuracy,
        train_size=evaluation.train_size,
        test_size=evaluation.test_size,
        artifact_sha256=served.trained.artifact_sha256,
        description=served.description,
        versions=[
            ModelVersionInfo(
                version=model.version,
                served=model is served,
                held_out_accuracy=model.trained.evaluation.held_out_accuracy,
                train_size=model.trained.evaluation.train_size,
                test_size=model.trained.evaluation.test_size,
                artifact_sha256=model.trained.artifact_sha256,
                trained_at=model.trained.trained_at,
                description=model.description,
            )
            for model in versions
        ],
    )

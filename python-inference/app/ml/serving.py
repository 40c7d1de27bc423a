"""What every entrance (HTTP routes, gRPC) does with a batch: the same checks, in the same order, with the same
messages; the prediction under a span; the prediction.made count. Problems are raised as ProblemError, which each
entrance turns into its own error form (problem details, gRPC status)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from app.api.errors import batch_too_large, validation_failed
from app.core.config import Settings
from app.core.telemetry import Tracer
from app.messaging.publisher import PredictionCounter
from app.ml.inputs import input_error
from app.ml.model import Prediction, ServedModel


def check_batch(
    model: ServedModel,
    inputs: Sequence[Any],
    settings: Settings,
    *,
    max_batch_size: int | None = None,
    path: Callable[[int], str] = lambda index: f"inputs[{index}]",
) -> None:
    """Raise the batch's problem: no inputs, more than `max_batch_size` (default MAX_BATCH_SIZE), bad inputs."""
    if not inputs:
        raise validation_failed({"inputs": ["must contain at least 1 item"]})
    limit = settings.MAX_BATCH_SIZE if max_batch_size is None else max_batch_size
    if len(inputs) > limit:
        raise batch_too_large(len(inputs), limit)
    check_inputs(model, inputs, settings, path=path)


def check_inputs(model: ServedModel, inputs: Sequence[Any], settings: Settings, *, path: Callable[[int], str]) -> None:
    """Report every bad input at once, each under its field path."""
    errors: dict[str, list[str]] = {}
    for index, value in enumerate(inputs):
        message = input_error(model, value, max_text_length=settings.MAX_TEXT_LENGTH)
        if message:
            errors.setdefault(path(index), []).append(message)
    if errors:
        raise validation_failed(errors)


def predict(model: ServedModel, inputs: Sequence[Any], tracer: Tracer, counter: PredictionCounter) -> list[Prediction]:
    """Predict checked inputs and count them for the prediction.made events."""
    attributes = {"ml.model.name": model.name, "ml.model.version": model.version, "ml.batch.size": len(inputs)}
    with tracer.start_as_current_span(f"predict {model.name}", attributes=attributes):
        predictions = model.predict(inputs)
    # In memory only; published later, in aggregate, as prediction.made events (app/messaging/publisher.py).
    counter.record(model.name, model.version, (p.label for p in predictions))
    return predictions

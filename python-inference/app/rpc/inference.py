"""`inference.v1.Inference`: the gRPC entrance to the same models, checks and counts as the HTTP routes
(app/api/routes/predictions.py, models.py); app/ml/serving.py holds what both share."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
from google.protobuf import json_format

from app.api.errors import not_ready, validation_failed
from app.core.config import Settings
from app.core.telemetry import Tracer
from app.messaging.publisher import PredictionCounter
from app.ml import serving
from app.ml.model import Prediction, ServedModel
from app.ml.registry import ModelRegistry
from app.rpc.calls import rpc_method
from app.rpc.stubs import inference_pb2, inference_pb2_grpc

SERVICE = "inference.v1.Inference"

pb = inference_pb2


class InferenceService(inference_pb2_grpc.InferenceServicer):
    def __init__(self, settings: Settings, registry: ModelRegistry, tracer: Tracer, counter: PredictionCounter) -> None:
        self.settings = settings
        self.registry = registry
        self.tracer = tracer
        self.counter = counter

    @rpc_method(SERVICE)
    async def Predict(self, request: pb.PredictRequest, context: grpc.aio.ServicerContext) -> pb.PredictResponse:
        model = self._model(request.model)
        if not request.HasField("input"):
            raise validation_failed({"input": ["is required"]})
        value = _value(request.input)
        serving.check_inputs(model, [value], self.settings, path=lambda _: "input")
        (prediction,) = serving.predict(model, [value], self.tracer, self.counter)
        return pb.PredictResponse(model=model.name, version=model.version, prediction=_prediction(prediction))

    @rpc_method(SERVICE)
    async def PredictBatch(
        self, request: pb.PredictBatchRequest, context: grpc.aio.ServicerContext
    ) -> pb.PredictBatchResponse:
        model = self._model(request.model)
        values = [_value(item) for item in request.inputs]
        serving.check_batch(model, values, self.settings)
        predictions = serving.predict(model, values, self.tracer, self.counter)
        return pb.PredictBatchResponse(
            model=model.name, version=model.version, predictions=[_prediction(p) for p in predictions]
        )

    @rpc_method(SERVICE)
    async def PredictStream(
        self, request: pb.PredictBatchRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.PredictStreamResponse]:
        """Any number of inputs: all are checked before the first answer, then predicted MAX_BATCH_SIZE at a time."""
        model = self._model(request.model)
        values = [_value(item) for item in request.inputs]
        serving.check_batch(model, values, self.settings, max_batch_size=len(values))
        chunk = self.settings.MAX_BATCH_SIZE
        for offset in range(0, len(values), chunk):
            predictions = serving.predict(model, values[offset : offset + chunk], self.tracer, self.counter)
            yield pb.PredictStreamResponse(
                model=model.name,
                version=model.version,
                offset=offset,
                predictions=[_prediction(p) for p in predictions],
            )

    @rpc_method(SERVICE)
    async def ListModels(self, request: pb.ListModelsRequest, context: grpc.aio.ServicerContext) -> pb.ListModelsResponse:
        self._require_ready()
        return pb.ListModelsResponse(models=[_model_info(model) for model in self.registry])

    def _model(self, name: str) -> ServedModel:
        self._require_ready()
        return self.registry.get(name)

    def _require_ready(self) -> None:
        if not self.registry.ready:
            raise not_ready()


def _value(item: pb.ModelInput) -> Any:
    """The input as the HTTP API would have parsed it from JSON, so the same checks give the same messages."""
    kind = item.WhichOneof("kind")
    if kind == "text":
        return item.text
    if kind == "features":
        return list(item.features.values)
    if kind == "other":
        return json_format.MessageToDict(item.other)
    return None


def _prediction(prediction: Prediction) -> pb.Prediction:
    return pb.Prediction(label=prediction.label, score=prediction.score)


def _model_info(model: ServedModel) -> pb.ModelInfo:
    evaluation = model.trained.evaluation
    return pb.ModelInfo(
        name=model.name,
        version=model.version,
        input_kind=model.input_kind,
        labels=model.labels,
        held_out_accuracy=evaluation.held_out_accuracy,
        train_size=evaluation.train_size,
        test_size=evaluation.test_size,
        artifact_sha256=model.trained.artifact_sha256,
        description=model.description,
    )

"""`inference.v1.Inference`: gRPC messages onto the serving core (app/ml/serving.py), which the HTTP routes
(app/api/routes/predictions.py, models.py) use as well; problems become statuses in app/rpc/calls.py."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
from google.protobuf import json_format

from app.core.telemetry import Tracer
from app.ml.model import Prediction
from app.ml.serving import MISSING, ModelServing
from app.rpc.calls import CallLimit, rpc_method
from app.rpc.stubs import inference_pb2, inference_pb2_grpc
from app.schemas.models import ModelInfo

SERVICE = "inference.v1.Inference"

pb = inference_pb2


class InferenceService(inference_pb2_grpc.InferenceServicer):
    def __init__(self, serving: ModelServing, max_calls: int) -> None:
        self.serving = serving
        self.calls = CallLimit(max_calls)  # for @rpc_method's bound

    @property
    def tracer(self) -> Tracer:  # for @rpc_method's server span
        return self.serving.tracer

    @rpc_method(SERVICE)
    async def Predict(self, request: pb.PredictRequest, context: grpc.aio.ServicerContext) -> pb.PredictResponse:
        value = _value(request.input) if request.HasField("input") else MISSING
        answered = await self.serving.predict_one(request.model, value, field="input")
        (prediction,) = answered.predictions
        return pb.PredictResponse(model=answered.model, version=answered.version, prediction=_prediction(prediction))

    @rpc_method(SERVICE)
    async def PredictBatch(
        self, request: pb.PredictBatchRequest, context: grpc.aio.ServicerContext
    ) -> pb.PredictBatchResponse:
        answered = await self.serving.predict_batch(request.model, [_value(item) for item in request.inputs])
        return pb.PredictBatchResponse(
            model=answered.model, version=answered.version, predictions=[_prediction(p) for p in answered.predictions]
        )

    @rpc_method(SERVICE)
    async def PredictStream(
        self, request: pb.PredictBatchRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.PredictStreamResponse]:
        async for answered in await self.serving.predict_stream(request.model, [_value(item) for item in request.inputs]):
            yield pb.PredictStreamResponse(
                model=answered.model,
                version=answered.version,
                offset=answered.offset,
                predictions=[_prediction(p) for p in answered.predictions],
            )

    @rpc_method(SERVICE)
    async def ListModels(self, request: pb.ListModelsRequest, context: grpc.aio.ServicerContext) -> pb.ListModelsResponse:
        return pb.ListModelsResponse(models=[_model_info(model) for model in self.serving.models()])


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


def _model_info(model: ModelInfo) -> pb.ModelInfo:
    """The served version's fields, by name (the message has no per-version list)."""
    return pb.ModelInfo(**{name: getattr(model, name) for name in pb.ModelInfo.DESCRIPTOR.fields_by_name})

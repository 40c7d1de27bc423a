"""Prediction endpoints: HTTP JSON onto the serving core (app/ml/serving.py), which checks the input on the event
loop and runs the model on its own bounded pool of threads (app/ml/executor.py), so the loop stays free for
health probes and gRPC. They are `async def`, so FastAPI adds no thread-pool hop of its own."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query

from app.api.deps import get_serving
from app.api.errors import problem_responses
from app.ml import sentiment
from app.ml.serving import ModelServing, Predictions
from app.schemas.predictions import Prediction, PredictRequest, PredictResponse

router = APIRouter(tags=["predictions"])


@router.post(
    "/v1/predict",
    response_model=PredictResponse,
    summary="Predict a batch of inputs with a named model",
    responses=problem_responses(400, 404, 503),
)
async def predict(body: PredictRequest, serving: ModelServing = Depends(get_serving)) -> PredictResponse:
    return _response(await serving.predict_batch(body.model, body.inputs))


@router.get(
    "/predict",
    response_model=PredictResponse,
    summary="Sentiment of one text (shortcut for POST /v1/predict with the sentiment model)",
    responses=problem_responses(400, 503),
)
async def predict_text(
    text: str = Query(..., description="The text to classify."),
    serving: ModelServing = Depends(get_serving),
) -> PredictResponse:
    return _response(await serving.predict_one(sentiment.NAME, text, field="text"))


def _response(answered: Predictions) -> PredictResponse:
    return PredictResponse(
        model=answered.model,
        version=answered.version,
        predictions=[Prediction(label=p.label, score=p.score) for p in answered.predictions],
    )

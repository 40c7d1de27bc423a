"""Prediction endpoints: HTTP JSON onto the serving core (app/ml/serving.py), which checks the input on the event
loop and runs the model on its own bounded pool of threads (app/ml/executor.py), so the loop stays free for
health probes and gRPC. They are `async def`, so FastAPI adds no thread-pool hop of its own."""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

from fastapi import APIRouter, Depends, Query, Request

from app.api.deps import get_serving
from app.api.errors import problem_responses
from app.core.problems import validation_failed
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
    request: Request,
    text: str = Query(..., description="The text to classify."),
    serving: ModelServing = Depends(get_serving),
) -> PredictResponse:
    if not _query_is_utf8(request.scope.get("query_string", b"")):
        # Starlette decodes invalid UTF-8 in a query into U+FFFD; the caller sent bytes that are not text.
        raise validation_failed({"text": ["must be percent-encoded UTF-8"]})
    return _response(await serving.predict_one(sentiment.NAME, text, field="text"))


def _query_is_utf8(query: bytes) -> bool:
    try:
        for pair in query.split(b"&"):
            unquote_to_bytes(pair.replace(b"+", b" ")).decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _response(answered: Predictions) -> PredictResponse:
    return PredictResponse(
        model=answered.model,
        version=answered.version,
        predictions=[Prediction(label=p.label, score=p.score) for p in answered.predictions],
    )

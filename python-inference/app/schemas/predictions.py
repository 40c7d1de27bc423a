from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, StrictStr


class PredictRequest(BaseModel):
    model: StrictStr = Field(..., description="Name of a model from GET /v1/models.")
    inputs: list[Any] = Field(
        ...,
        description="1..MAX_BATCH_SIZE inputs: strings for text models, lists of numbers for feature models.",
    )


class Prediction(BaseModel):
    label: str
    score: float = Field(..., description="Probability of `label`, rounded to 6 decimals.")


class PredictResponse(BaseModel):
    model: str
    version: str
    predictions: list[Prediction] = Field(..., description="One per input, in input order.")

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field


class ModelVersionInfo(BaseModel):
    version: str
    served: bool = Field(..., description="Whether this version answers predictions now.")
    held_out_accuracy: float = Field(
        ..., description="Accuracy on the held-out split this version never saw (20% for the built-in models)."
    )
    train_size: int
    test_size: int
    artifact_sha256: str = Field(
        ..., description="SHA-256 of the fitted estimator's artifact (its pickle; a repository model's model.joblib)."
    )
    trained_at: datetime
    description: str


class ModelInfo(BaseModel):
    """A model as served now: the top-level fields describe the served version."""

    name: str
    version: str = Field(..., description="The served version.")
    input_kind: Literal["text", "features"]
    feature_count: int | None = Field(None, description='How many numbers an input has ("features"); null for "text".')
    labels: list[str]
    held_out_accuracy: float = Field(
        ..., description="Accuracy on the held-out split the served model never saw (20% for the built-in models)."
    )
    train_size: int
    test_size: int
    artifact_sha256: str = Field(
        ..., description="SHA-256 of the fitted estimator's artifact (its pickle; a repository model's model.joblib)."
    )
    description: str
    versions: list[ModelVersionInfo] = Field(..., description="Every version loaded, the served one included.")


class ModelList(BaseModel):
    models: list[ModelInfo]

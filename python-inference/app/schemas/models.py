from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class ModelInfo(BaseModel):
    name: str
    version: str
    input_kind: Literal["text", "features"]
    labels: list[str]
    held_out_accuracy: float = Field(..., description="Accuracy on the 20% split the served model never saw.")
    train_size: int
    test_size: int
    artifact_sha256: str = Field(..., description="SHA-256 of the pickled fitted estimator.")
    description: str


class ModelList(BaseModel):
    models: list[ModelInfo]

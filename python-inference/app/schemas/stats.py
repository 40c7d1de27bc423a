from __future__ import annotations

from pydantic import BaseModel, Field


class ModelStats(BaseModel):
    predictions: int = Field(..., description="Predictions served, from prediction.made events.")
    labels: dict[str, int] = Field(..., description="Predictions per label.")
    versions: dict[str, int] = Field(..., description="Predictions per model version.")
    jobs_completed: int = Field(..., description="job.completed events for this model.")
    jobs_failed: int = Field(..., description="job.failed events for this model.")


class ConsumerStatus(BaseModel):
    connected: bool = Field(..., description="Whether the analytics consumer is attached to the broker now.")
    queue: str


class Stats(BaseModel):
    models: dict[str, ModelStats]
    events: dict[str, int] = Field(..., description="Events consumed per type, each event counted once.")
    consumer: ConsumerStatus

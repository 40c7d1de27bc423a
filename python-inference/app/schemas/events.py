"""The domain events on the durable `events` fanout exchange (RabbitMQ), shared with the C# Worker.

Each consumer binds its own durable queue to the exchange. One AMQP message is one event:
persistent (delivery_mode 2), content_type `application/json`, the `type` property is the event type,
`message_id` the event id, `timestamp` set, and the header `traceparent` (W3C trace context) when the
publisher had a trace. The body is UTF-8 JSON in camelCase:

    {"id": "<uuid>", "type": "job.completed", "occurredAt": "2026-11-26T22:40:00.123Z",
     "source": "worker", "data": {...}}

`data` by type:

- `job.completed` (Worker): {"jobId": uuid, "owner": str, "model": str, "version": str, "attempts": int,
  "predictions": [{"label": str, "score": float}, ...]}
- `job.failed` (Worker): {"jobId": uuid, "owner": str, "model": str, "attempts": int,
  "error": {problem details}}
- `prediction.made` (python-inference, aggregated per flush and per model version):
  {"model": str, "version": str, "count": int, "labels": {"<label>": int, ...}}
- `model.activated`: {"model": str, "version": str}

The event id identifies the event, not the delivery: a consumer that sees an id twice must change
nothing the second time. A consumer accepts event types it does not know (only the envelope is checked).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from uuid import UUID, uuid4

import pydantic
from pydantic import BaseModel, Field, NonNegativeInt

JOB_COMPLETED = "job.completed"
JOB_FAILED = "job.failed"
PREDICTION_MADE = "prediction.made"
MODEL_ACTIVATED = "model.activated"

_PYDANTIC_V2 = int(pydantic.VERSION.split(".")[0]) >= 2


def _to_camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


if _PYDANTIC_V2:

    class CamelModel(BaseModel):
        """Fields in snake_case here, camelCase on the wire."""

        model_config = pydantic.ConfigDict(alias_generator=_to_camel, populate_by_name=True)

else:

    class CamelModel(BaseModel):  # type: ignore[no-redef]
        """Fields in snake_case here, camelCase on the wire."""

        class Config:
            alias_generator = _to_camel
            allow_population_by_field_name = True


class EventEnvelope(CamelModel):
    id: UUID
    type: str = Field(..., min_length=1)
    occurred_at: datetime
    source: str
    data: dict[str, Any]


class JobPrediction(CamelModel):
    label: str
    score: float


class JobCompletedData(CamelModel):
    job_id: UUID
    owner: str
    model: str
    version: str
    attempts: NonNegativeInt
    predictions: list[JobPrediction]


class JobFailedData(CamelModel):
    job_id: UUID
    owner: str
    model: str
    attempts: NonNegativeInt
    error: dict[str, Any] = Field(..., description="RFC 9457 problem details.")


class PredictionMadeData(CamelModel):
    model: str
    version: str
    count: NonNegativeInt
    labels: dict[str, NonNegativeInt]


class ModelActivatedData(CamelModel):
    model: str
    version: str


EVENT_DATA: dict[str, type[CamelModel]] = {
    JOB_COMPLETED: JobCompletedData,
    JOB_FAILED: JobFailedData,
    PREDICTION_MADE: PredictionMadeData,
    MODEL_ACTIVATED: ModelActivatedData,
}


@dataclass(frozen=True)
class Event:
    envelope: EventEnvelope
    data: CamelModel | None  # None for a type this service does not know


class InvalidEventError(ValueError):
    """The body is not an event of this contract; redelivering it cannot help."""


def parse_event(body: bytes) -> Event:
    """Decode and validate a message body: the envelope always, `data` for the known types."""
    try:
        envelope = _validate(EventEnvelope, json.loads(body.decode("utf-8")))
        data_model = EVENT_DATA.get(envelope.type)
        data = _validate(data_model, envelope.data) if data_model else None
    # Bad UTF-8, bad JSON and pydantic's ValidationError are ValueErrors; a number too large for a float field is an
    # OverflowError (pydantic v1 lets it through), JSON nested too deep a RecursionError.
    except (ValueError, OverflowError, RecursionError) as error:
        raise InvalidEventError(str(error) or type(error).__name__) from error
    return Event(envelope, data)


def new_event(event_type: str, data: CamelModel, *, source: str) -> EventEnvelope:
    return EventEnvelope(
        id=uuid4(),
        type=event_type,
        occurred_at=datetime.now(timezone.utc),
        source=source,
        data=_dump(data),
    )


def encode_event(envelope: EventEnvelope) -> bytes:
    body = {
        "id": str(envelope.id),
        "type": envelope.type,
        "occurredAt": format_timestamp(envelope.occurred_at),
        "source": envelope.source,
        "data": envelope.data,
    }
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False, default=str).encode("utf-8")


def format_timestamp(moment: datetime) -> str:
    """UTC with milliseconds and a `Z`, as the C# side writes it: 2026-11-26T22:40:00.123Z."""
    utc = moment.astimezone(timezone.utc)
    return f"{utc:%Y-%m-%dT%H:%M:%S}.{utc.microsecond // 1000:03d}Z"


def _validate(model: type[CamelModel], value: Any) -> Any:
    return model.model_validate(value) if _PYDANTIC_V2 else model.parse_obj(value)


def _dump(model: CamelModel) -> dict[str, Any]:
    return model.model_dump(mode="json", by_alias=True) if _PYDANTIC_V2 else json.loads(model.json(by_alias=True))

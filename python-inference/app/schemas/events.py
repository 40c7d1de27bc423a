"""The domain events on the durable `events` fanout exchange (RabbitMQ), shared with the C# Worker.

Each consumer binds its own durable queue to the exchange. A message is persistent (delivery_mode 2), content_type
`application/json`, `timestamp` set, and its body UTF-8 JSON in camelCase, in one of two forms:

- one event, an envelope (a JSON object):

    {"id": "<uuid>", "type": "job.completed", "occurredAt": "2026-11-26T22:40:00.123Z",
     "source": "worker", "data": {...}, "traceparent": "00-<trace id>-<span id>-01"}

- a batch, a JSON array of 1 to MAX_EVENTS_PER_MESSAGE envelopes, each complete (its own id, ...): the Worker sends
  the events one transaction records together when they share type and routing key, to save per-message costs.

The `type` property is the events' type, `message_id` the (first) event's id, and the header `traceparent` (W3C trace
context) the (first) event's trace when the publisher had one. An envelope's optional
`traceparent` is the trace that event belongs to (a job's); absent means unknown. A body that is neither form, an
empty or too long array, or an array with any element that is not a valid envelope is invalid as a whole.

`data` by type:

- `job.completed` (Worker): {"jobId": uuid, "owner": str, "model": str, "version": str, "attempts": int,
  "predictions": [{"label": str, "score": float}, ...]}
- `job.failed` (Worker): {"jobId": uuid, "owner": str, "model": str, "attempts": int,
  "error": {problem details}}
- `prediction.made` (python-inference, aggregated per flush and per model version):
  {"model": str, "version": str, "count": int, "labels": {"<label>": int, ...}}
- `model.activated`: {"model": str, "version": str}

The event id identifies the event, not the delivery nor the message: a consumer that sees an id twice must change
nothing the second time. A consumer accepts event types it does not know (only the envelope is checked).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import UUID, uuid4

import pydantic
from pydantic import BaseModel, Field, NonNegativeInt

JOB_COMPLETED = "job.completed"
JOB_FAILED = "job.failed"
PREDICTION_MADE = "prediction.made"
MODEL_ACTIVATED = "model.activated"
# The most events one message may carry (the Worker's DomainEvent.MaxPerMessage); a longer array is refused as abuse.
MAX_EVENTS_PER_MESSAGE = 1000

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
    traceparent: str | None = None  # W3C; the alias generator leaves the one-word name as it is


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


def parse_events(body: bytes) -> list[Event]:
    """Decode and validate a message body, one envelope or an array of them (in order): each envelope always, `data`
    for the known types. All or nothing: one bad event makes the whole body invalid."""
    try:
        value = json.loads(body.decode("utf-8"))
        if type(value) is not list:
            return [_read_event(value)]
        if not 0 < len(value) <= MAX_EVENTS_PER_MESSAGE:
            raise ValueError(f"an array of {len(value)} events (1 to {MAX_EVENTS_PER_MESSAGE} are allowed)")
        return [_read_event(item) for item in value]
    # Bad UTF-8, bad JSON and pydantic's ValidationError are ValueErrors; a number too large for a float field is an
    # OverflowError (pydantic v1 lets it through), JSON nested too deep a RecursionError.
    except (ValueError, OverflowError, RecursionError) as error:
        raise InvalidEventError(str(error) or type(error).__name__) from error


def _read_event(value: Any) -> Event:
    # Checked here, not left to pydantic: v1 would read an array of [key, value] pairs as an object.
    if type(value) is not dict:
        raise ValueError(f"an event is a JSON object, not {type(value).__name__}")
    return _exact_event(value) or _validated_event(value)


def _validated_event(value: Any) -> Event:
    """pydantic's reading of an event: it decides every body, and explains what is wrong with a bad one."""
    envelope = _validate(EventEnvelope, value)
    data_model = EVENT_DATA.get(envelope.type)
    return Event(envelope, _validate(data_model, envelope.data) if data_model else None)


# The fast path. pydantic (v1, Debian's) took about 40 µs of the analytics consumer's 330 µs per event. An event whose
# every field already has the exact JSON type the contract names (what our publishers write) is built here without
# it, in a few µs; anything else — a number in a string, a missing field, a timestamp in another form — goes to
# pydantic, which accepts or refuses it as before. So the fast path may only ever accept what pydantic accepts, and
# give the same event: tests/schemas/test_events.py checks that against pydantic on thousands of variants.


class _Inexact(Exception):
    """Not in the exact form: pydantic decides."""


_TIMESTAMP = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,6})[0-9]{0,6})?"
    r"(?:(Z)|([+-])([0-9]{2}):([0-9]{2}))"
)
_LARGEST_EXACT_FLOAT_INT = 2**53


def _exact_event(value: Any) -> Event | None:
    """The event, when `value` is exactly in the form our publishers write; else None."""
    try:
        fields: dict[str, Any] = {
            "id": _uuid(value["id"]),
            "type": _text(value["type"], min_length=1),
            "occurred_at": _timestamp(value["occurredAt"]),
            "source": _text(value["source"]),
            "data": _object(value["data"]),
        }
        if "traceparent" in value:  # only then: pydantic's `fields_set` has it only then
            fields["traceparent"] = _text(value["traceparent"])
        envelope = _construct(EventEnvelope, **fields)
        reader = _EXACT_DATA.get(envelope.type)
        return Event(envelope, reader(envelope.data) if reader else None)
    except (_Inexact, KeyError, TypeError, ValueError):  # TypeError: `value` or a nested one is not an object
        return None


def _text(value: Any, *, min_length: int = 0) -> str:
    if type(value) is not str or len(value) < min_length:
        raise _Inexact
    return value


def _count(value: Any) -> int:
    if type(value) is not int or value < 0:  # `type`, not isinstance: a bool is not a count
        raise _Inexact
    return value


def _score(value: Any) -> float:
    if type(value) is float:
        return value
    if type(value) is int and abs(value) <= _LARGEST_EXACT_FLOAT_INT:  # .NET writes 1.0 as 1
        return float(value)
    raise _Inexact


def _object(value: Any) -> dict[str, Any]:
    if type(value) is not dict:
        raise _Inexact
    return value


def _uuid(value: Any) -> UUID:
    return UUID(_text(value))  # pydantic parses a string the same way; a ValueError sends it there to be refused


def _timestamp(value: Any) -> datetime:
    match = _TIMESTAMP.fullmatch(_text(value))
    if match is None:
        raise _Inexact
    year, month, day, hour, minute, second, fraction, utc, sign, offset_hours, offset_minutes = match.groups()
    if utc:
        zone = timezone.utc
    else:
        offset = 60 * int(offset_hours) + int(offset_minutes)
        zone = timezone(timedelta(minutes=-offset if sign == "-" else offset))
    microsecond = int(fraction.ljust(6, "0")) if fraction else 0
    return datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), microsecond, zone)


def _job_completed(data: dict[str, Any]) -> JobCompletedData:
    predictions = [
        _construct(JobPrediction, label=_text(item["label"]), score=_score(item["score"]))
        for item in _list(data["predictions"])
    ]
    return _construct(
        JobCompletedData,
        job_id=_uuid(data["jobId"]),
        owner=_text(data["owner"]),
        model=_text(data["model"]),
        version=_text(data["version"]),
        attempts=_count(data["attempts"]),
        predictions=predictions,
    )


def _job_failed(data: dict[str, Any]) -> JobFailedData:
    return _construct(
        JobFailedData,
        job_id=_uuid(data["jobId"]),
        owner=_text(data["owner"]),
        model=_text(data["model"]),
        attempts=_count(data["attempts"]),
        error=_object(data["error"]),
    )


def _prediction_made(data: dict[str, Any]) -> PredictionMadeData:
    labels = {label: _count(count) for label, count in _object(data["labels"]).items()}
    return _construct(
        PredictionMadeData,
        model=_text(data["model"]),
        version=_text(data["version"]),
        count=_count(data["count"]),
        labels=labels,
    )


def _model_activated(data: dict[str, Any]) -> ModelActivatedData:
    return _construct(ModelActivatedData, model=_text(data["model"]), version=_text(data["version"]))


def _list(value: Any) -> list[Any]:
    if type(value) is not list:
        raise _Inexact
    return value


_EXACT_DATA: dict[str, Any] = {
    JOB_COMPLETED: _job_completed,
    JOB_FAILED: _job_failed,
    PREDICTION_MADE: _prediction_made,
    MODEL_ACTIVATED: _model_activated,
}


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


def _construct(model_type: type[Any], /, **fields: Any) -> Any:
    """A model from values that are already valid (pydantic's `construct`: no validation)."""
    return model_type.model_construct(**fields) if _PYDANTIC_V2 else model_type.construct(**fields)


def _dump(model: CamelModel) -> dict[str, Any]:
    return model.model_dump(mode="json", by_alias=True) if _PYDANTIC_V2 else json.loads(model.json(by_alias=True))

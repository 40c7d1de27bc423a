from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import UUID

import pytest

from app.schemas.events import (
    InvalidEventError,
    JobCompletedData,
    JobFailedData,
    ModelActivatedData,
    PredictionMadeData,
    encode_event,
    format_timestamp,
    new_event,
    parse_event,
)

EVENT_ID = "0b8e8a4e-6a53-4f55-9d1c-3f1d2b7a9e10"
JOB_ID = "7d1f3c2a-1b4e-4c8d-9e0f-a1b2c3d4e5f6"


def envelope(event_type: str, data: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    """An event as the C# Worker writes it."""
    return {
        "id": EVENT_ID,
        "type": event_type,
        "occurredAt": "2026-11-26T22:40:00.123Z",
        "source": "worker",
        "data": data,
        **overrides,
    }


def body(value: Any) -> bytes:
    return json.dumps(value).encode("utf-8")


JOB_COMPLETED = {
    "jobId": JOB_ID,
    "owner": "alice",
    "model": "sentiment",
    "version": "1.0.0",
    "attempts": 2,
    "predictions": [{"label": "positive", "score": 0.93}, {"label": "negative", "score": 0.71}],
}
JOB_FAILED = {
    "jobId": JOB_ID,
    "owner": "alice",
    "model": "iris",
    "attempts": 3,
    "error": {"type": "urn:problem:upstream_unavailable", "title": "Service Unavailable", "status": 503},
}


def test_job_completed_is_parsed_from_the_workers_camel_case_json() -> None:
    event = parse_event(body(envelope("job.completed", JOB_COMPLETED)))

    assert event.envelope.id == UUID(EVENT_ID)
    assert event.envelope.type == "job.completed"
    assert event.envelope.source == "worker"
    assert event.envelope.occurred_at == datetime(2026, 11, 26, 22, 40, 0, 123000, tzinfo=timezone.utc)
    assert isinstance(event.data, JobCompletedData)
    assert event.data.job_id == UUID(JOB_ID)
    assert (event.data.owner, event.data.model, event.data.version, event.data.attempts) == (
        "alice",
        "sentiment",
        "1.0.0",
        2,
    )
    assert [(p.label, p.score) for p in event.data.predictions] == [("positive", 0.93), ("negative", 0.71)]


def test_job_failed_carries_the_problem_details_object() -> None:
    event = parse_event(body(envelope("job.failed", JOB_FAILED)))

    assert isinstance(event.data, JobFailedData)
    assert event.data.model == "iris"
    assert event.data.attempts == 3
    assert event.data.error["status"] == 503


def test_prediction_made_and_model_activated_are_parsed() -> None:
    made = parse_event(
        body(envelope("prediction.made", {"model": "iris", "version": "1.0.0", "count": 3, "labels": {"setosa": 3}}))
    )
    activated = parse_event(body(envelope("model.activated", {"model": "iris", "version": "2.0.0"})))

    assert made.data == PredictionMadeData(model="iris", version="1.0.0", count=3, labels={"setosa": 3})
    assert activated.data == ModelActivatedData(model="iris", version="2.0.0")


def test_an_unknown_event_type_is_accepted_with_only_its_envelope_checked() -> None:
    event = parse_event(body(envelope("model.retired", {"anything": ["goes"]})))

    assert event.envelope.type == "model.retired"
    assert event.data is None


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"\xff\xfe not utf-8", id="not-utf8"),
        pytest.param(b"{not json", id="not-json"),
        pytest.param(b"[]", id="not-an-object"),
        pytest.param(body({k: v for k, v in envelope("job.failed", JOB_FAILED).items() if k != "id"}), id="no-id"),
        pytest.param(body(envelope("job.completed", JOB_COMPLETED, id="42")), id="id-not-a-uuid"),
        pytest.param(body(envelope("", {})), id="empty-type"),
        pytest.param(body(envelope("job.completed", JOB_COMPLETED, occurredAt="yesterday")), id="bad-timestamp"),
        pytest.param(body(envelope("job.completed", {**JOB_COMPLETED, "jobId": None})), id="job-without-id"),
        pytest.param(body(envelope("job.failed", {**JOB_FAILED, "error": "boom"})), id="error-not-an-object"),
        pytest.param(
            body(envelope("prediction.made", {"model": "m", "version": "1", "count": -1, "labels": {}})),
            id="negative-count",
        ),
        pytest.param(
            body(envelope("prediction.made", {"model": "m", "version": "1", "count": 1, "labels": {"a": "many"}})),
            id="label-count-not-a-number",
        ),
        pytest.param(
            body(envelope("job.completed", {**JOB_COMPLETED, "predictions": [{"label": "a", "score": 10**400}]})),
            id="score-beyond-a-float",
        ),
        pytest.param(b'{"id": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", id="nested-too-deep"),
    ],
)
def test_a_body_that_is_not_an_event_of_the_contract_is_invalid(raw: bytes) -> None:
    with pytest.raises(InvalidEventError):
        parse_event(raw)


def test_encoded_event_is_camel_case_json_with_a_millisecond_utc_timestamp() -> None:
    data = PredictionMadeData(model="sentiment", version="1.0.0", count=3, labels={"positive": 2, "negative": 1})
    event = new_event("prediction.made", data, source="python-inference")

    encoded = json.loads(encode_event(event))

    assert set(encoded) == {"id", "type", "occurredAt", "source", "data"}
    assert UUID(encoded["id"]) == event.id
    assert encoded["type"] == "prediction.made"
    assert encoded["source"] == "python-inference"
    assert encoded["occurredAt"].endswith("Z") and len(encoded["occurredAt"]) == len("2026-11-26T22:40:00.123Z")
    assert encoded["data"] == {
        "model": "sentiment",
        "version": "1.0.0",
        "count": 3,
        "labels": {"positive": 2, "negative": 1},
    }
    assert parse_event(encode_event(event)).data == data


def test_job_data_is_encoded_with_camel_case_keys() -> None:
    data = JobCompletedData(
        job_id=UUID(JOB_ID), owner="bob", model="iris", version="1.0.0", attempts=1, predictions=[]
    )

    encoded = json.loads(encode_event(new_event("job.completed", data, source="test")))

    assert encoded["data"] == {
        "jobId": JOB_ID,
        "owner": "bob",
        "model": "iris",
        "version": "1.0.0",
        "attempts": 1,
        "predictions": [],
    }


def test_timestamps_are_written_in_utc_with_milliseconds() -> None:
    moment = datetime(2026, 11, 26, 23, 40, 0, 123456, tzinfo=timezone(timedelta(hours=1)))

    assert format_timestamp(moment) == "2026-11-26T22:40:00.123Z"

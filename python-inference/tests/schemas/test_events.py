from __future__ import annotations

import itertools
import json
from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import UUID

import pytest

from app.schemas.events import (
    MAX_EVENTS_PER_MESSAGE,
    Event,
    EventEnvelope,
    InvalidEventError,
    JobCompletedData,
    JobFailedData,
    ModelActivatedData,
    PredictionMadeData,
    encode_event,
    format_timestamp,
    new_event,
    parse_events,
)
from app.schemas.events import _exact_event, _validated_event  # the two readings the fast-path tests compare

EVENT_ID = "0b8e8a4e-6a53-4f55-9d1c-3f1d2b7a9e10"
JOB_ID = "7d1f3c2a-1b4e-4c8d-9e0f-a1b2c3d4e5f6"
JOB_TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


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


def parse_event(raw: bytes) -> Event:
    """The one event of a body that must hold exactly one."""
    [event] = parse_events(raw)
    return event


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
        pytest.param(b"[]", id="empty-array"),
        pytest.param(b'"job.completed"', id="not-an-object"),
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
        parse_events(raw)


def test_an_array_body_is_a_batch_of_full_envelopes_read_in_order() -> None:
    completed = envelope("job.completed", JOB_COMPLETED, traceparent=JOB_TRACEPARENT)
    failed = envelope("job.failed", JOB_FAILED, id="5f0c7a3e-0d2b-4a6e-8f1c-2b3d4e5f6a7b")

    events = parse_events(body([completed, failed]))

    assert [event.envelope.id for event in events] == [UUID(EVENT_ID), UUID(failed["id"])]
    assert [type(event.data) for event in events] == [JobCompletedData, JobFailedData]
    assert [event.envelope.traceparent for event in events] == [JOB_TRACEPARENT, None]
    assert parse_events(body([completed])) == [parse_event(body(completed))]  # a batch of one reads as the event


GOOD = envelope("model.activated", {"model": "iris", "version": "2.0.0"})


@pytest.mark.parametrize(
    "batch",
    [
        pytest.param([], id="empty"),
        pytest.param([GOOD, "model.activated"], id="a-string-element"),
        pytest.param([GOOD, None], id="a-null-element"),
        pytest.param([GOOD, [GOOD]], id="a-nested-array"),
        # pydantic v1 would read a list of pairs as an object: the contract's elements are objects.
        pytest.param([GOOD, list(GOOD.items())], id="an-element-of-key-value-pairs"),
        pytest.param([GOOD, {**GOOD, "id": "42"}], id="one-bad-envelope"),
        pytest.param([GOOD, envelope("job.failed", {**JOB_FAILED, "error": "boom"})], id="one-bad-data"),
        pytest.param([GOOD] * (MAX_EVENTS_PER_MESSAGE + 1), id="too-many"),
    ],
)
def test_an_array_with_any_element_that_is_not_an_event_or_of_no_or_too_many_events_is_invalid(
    batch: list[Any],
) -> None:
    with pytest.raises(InvalidEventError):
        parse_events(body(batch))


def test_an_array_may_hold_up_to_the_most_events_a_message_carries() -> None:
    assert len(parse_events(body([GOOD] * MAX_EVENTS_PER_MESSAGE))) == MAX_EVENTS_PER_MESSAGE


def test_an_envelope_carries_its_trace_as_an_optional_all_lowercase_traceparent() -> None:
    with_trace = parse_event(body(envelope("job.completed", JOB_COMPLETED, traceparent=JOB_TRACEPARENT)))
    without = parse_event(body(envelope("job.completed", JOB_COMPLETED)))

    assert with_trace.envelope.traceparent == JOB_TRACEPARENT
    assert without.envelope.traceparent is None
    assert {field.alias for field in EventEnvelope.__fields__.values()} >= {"traceparent", "occurredAt"}
    with pytest.raises(InvalidEventError):
        parse_events(body(envelope("job.completed", JOB_COMPLETED, traceparent={"trace": 1})))


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


# The fast path (`_exact_event`) against pydantic (`_validated_event`), the reference: whatever the fast path accepts,
# pydantic accepts too and reads the same way.

WORKER_TIMESTAMP = "2026-11-26T22:40:00.1234567+00:00"  # System.Text.Json's DateTimeOffset: 7 digits and an offset
EXACT_EVENTS = {
    "job.completed": envelope("job.completed", JOB_COMPLETED, occurredAt=WORKER_TIMESTAMP, traceparent=JOB_TRACEPARENT),
    "job.failed": envelope("job.failed", JOB_FAILED, occurredAt=WORKER_TIMESTAMP),
    "prediction.made": envelope(
        "prediction.made",
        {"model": "iris", "version": "1.0.0", "count": 3, "labels": {"setosa": 2, "virginica": 1}},
        source="python-inference",
    ),
    "model.activated": envelope("model.activated", {"model": "iris", "version": "2.0.0"}),
    "model.retired": envelope("model.retired", {"anything": ["goes"]}),
}

_TEXTS: list[Any] = ["x", "", " padded ", "5", 5, 5.0, True, None, [], {}]
_UUIDS: list[Any] = [
    JOB_ID.upper(), "{" + JOB_ID + "}", "urn:uuid:" + JOB_ID, JOB_ID.replace("-", ""), "42", "", 42, None, [JOB_ID],
]
_TIMESTAMPS: list[Any] = [
    "2026-11-26T22:40:00Z", "2026-11-26T22:40:00.1Z", "2026-11-26T22:40:00.123456Z", "2026-11-26T22:40:00.1234567890123Z",
    "2026-11-26T22:40:00.123+05:30", "2026-11-26T22:40:00-08:00", "2026-11-26T22:40:00+0530", "2026-11-26T22:40:00+23:59",
    "2026-11-26T22:40:00+24:00", "2026-11-26 22:40:00Z", "2026-11-26T22:40Z", "2026-11-26T22:40:00",
    "2026-11-26T22:40:00.123z", "2026-02-30T00:00:00Z", "2026-11-26T24:00:00Z", "2026-1-26T22:40:00Z",
    "\u0662\u0660\u0662\u0666-11-26T22:40:00Z", "1700000000", 1700000000, 1.7e9, "", None,
]
_COUNTS: list[Any] = [0, 3, -1, True, False, 2.0, 2.5, "3", None, 10**30, []]
_SCORES: list[Any] = [0.5, 1, 0, -1, 2**60, 10**400, True, "0.5", None, float("nan"), 1e308, []]
_OBJECTS: list[Any] = [{}, {"a": 1}, [], [["a", 1]], "boom", None, 3]

FIELD_VALUES: dict[str, list[Any]] = {
    "id": _UUIDS,
    "type": ["job.completed", "job.failed", "prediction.made", "model.activated", "other", *_TEXTS],
    "occurredAt": _TIMESTAMPS,
    "source": _TEXTS,
    "data": _OBJECTS,
    "traceparent": [JOB_TRACEPARENT, JOB_TRACEPARENT.upper(), "", "not a traceparent", *_TEXTS[3:]],
    "data.jobId": _UUIDS,
    "data.owner": _TEXTS,
    "data.model": _TEXTS,
    "data.version": _TEXTS,
    "data.attempts": _COUNTS,
    "data.count": _COUNTS,
    "data.error": _OBJECTS,
    "data.labels": [*_OBJECTS, {"a": -1}, {"a": True}, {"a": "1"}, {"a": 1.0}, {"a": None}],
    "data.predictions": [[], [{}], [{"label": "a"}], "x", None, [{"label": "a", "score": 1, "extra": 2}], [["a", 1]]],
    "data.predictions.0.label": _TEXTS,
    "data.predictions.0.score": _SCORES,
}


def _mutated(event: dict[str, Any], path: str, value: Any, *, delete: bool = False) -> dict[str, Any]:
    result = json.loads(json.dumps(event))
    *parents, last = path.split(".")
    target: Any = result
    for key in parents:  # a path through a value that another change replaced leads nowhere: nothing changes
        target = _child(target, key)
    if isinstance(target, dict):
        if delete:
            target.pop(last, None)
        else:
            target[last] = value
    elif _child(target, last) is not None and not delete:
        target[int(last)] = value
    return result


def _child(value: Any, key: str) -> Any:
    if isinstance(value, dict):
        return value.get(key)
    if isinstance(value, list) and key.isdigit() and int(key) < len(value):
        return value[int(key)]
    return None


def _variants() -> list[dict[str, Any]]:
    variants = list(EXACT_EVENTS.values())
    for event in EXACT_EVENTS.values():
        for path, values in FIELD_VALUES.items():
            variants.append(_mutated(event, path, None, delete=True))
            variants.extend(_mutated(event, path, value) for value in values)
        variants.append({**event, "extra": 1, "occurred_at": "not a timestamp"})  # pydantic: the alias wins
        variants.append({key: value for key, value in event.items() if key != "occurredAt"} | {"occurred_at": event["occurredAt"]})
    random = __import__("random").Random(20261204)
    paths = list(FIELD_VALUES)
    for _ in range(3000):  # several changes at once
        variant = random.choice(list(EXACT_EVENTS.values()))
        for path in random.sample(paths, random.randint(1, 3)):
            variant = _mutated(variant, path, random.choice(FIELD_VALUES[path]), delete=random.random() < 0.1)
        variants.append(variant)
    return variants


def _reading(event: Event | None) -> str:
    """Everything an event says, types included (repr: a NaN equals itself, a timezone shows its offset)."""
    assert event is not None
    data = None if event.data is None else (type(event.data).__name__, repr(event.data), event.data.__fields_set__)
    return repr((event.envelope, event.envelope.__fields_set__, data))


def test_the_fast_path_reads_what_the_publishers_write_as_pydantic_does() -> None:
    for event in EXACT_EVENTS.values():
        for occurred_at in (WORKER_TIMESTAMP, "2026-11-26T22:40:00.123Z", "2026-11-26T22:40:00.123-05:00"):
            value = {**event, "occurredAt": occurred_at}
            assert _reading(_exact_event(value)) == _reading(_validated_event(value))
    # What python-inference itself writes goes the fast way too.
    made = new_event("prediction.made", PredictionMadeData(model="m", version="1", count=1, labels={"a": 1}), source="t")
    assert _exact_event(json.loads(encode_event(made))) is not None


def test_whatever_the_fast_path_accepts_pydantic_accepts_and_reads_the_same() -> None:
    fast = refused = 0
    for value in _variants():
        exact = _exact_event(value)
        try:
            reference = _validated_event(value)
        except (ValueError, OverflowError):
            reference = None
        if exact is None:
            continue
        fast += 1
        assert reference is not None, f"the fast path accepted what pydantic refuses: {value!r}"
        assert _reading(exact) == _reading(reference), value
    assert fast > 1000  # the variants do reach it: a fast path that never answered would pass the loop above


def test_parse_events_accepts_and_refuses_a_single_event_as_pydantic_does() -> None:
    for value in _variants()[:1000]:
        raw = json.dumps(value).encode("utf-8")
        try:
            reference = _validated_event(value)
        except (ValueError, OverflowError):
            with pytest.raises(InvalidEventError):
                parse_events(raw)
            continue
        assert _reading(parse_event(raw)) == _reading(reference), value


def test_parse_events_reads_an_array_as_pydantic_reads_each_element_and_refuses_it_if_pydantic_refuses_any() -> None:
    variants = _variants()
    batches = [variants[start : start + size] for start, size in zip(range(0, 4000, 40), itertools.cycle((1, 2, 7)))]
    accepted = refused = 0
    for batch in batches:
        raw = json.dumps(batch).encode("utf-8")
        try:
            references = [_validated_event(value) for value in batch]
        except (ValueError, OverflowError):
            refused += 1
            with pytest.raises(InvalidEventError):
                parse_events(raw)
            continue
        accepted += 1
        assert [_reading(event) for event in parse_events(raw)] == [_reading(event) for event in references], batch
    assert accepted > 10 and refused > 10  # both outcomes are reached

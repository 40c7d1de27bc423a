from __future__ import annotations

import json
import uuid
from dataclasses import replace
from pathlib import Path

from fastapi.testclient import TestClient

from app.core.config import Settings
from app.main import create_app
from app.messaging.lifecycle import Messaging
from app.ml.registry import ModelRegistry
from app.schemas.events import parse_events


def record(messaging: Messaging, event_type: str, data: dict[str, object]) -> None:
    envelope = {"id": str(uuid.uuid4()), "type": event_type, "occurredAt": "2026-11-26T22:40:00Z", "source": "t"}
    messaging.consumer.store.record_many(parse_events(json.dumps({**envelope, "data": data}).encode()))


def test_without_a_broker_stats_are_empty_and_the_consumer_is_not_connected(client: TestClient) -> None:
    response = client.get("/v1/stats")

    assert response.status_code == 200
    assert response.json() == {
        "models": {},
        "events": {},
        "consumer": {"connected": False, "queue": "events.analytics"},
    }


def test_stats_report_counts_per_model_and_per_event_type_in_snake_case(
    settings: Settings, registry: ModelRegistry, tmp_path: Path
) -> None:
    # Configured for a broker but never started (no lifespan): the route reads the store only.
    app = create_app(
        replace(settings, MESSAGING_URL="amqp://u:p@127.0.0.1:1", ANALYTICS_DB_PATH=tmp_path / "a.db"), registry
    )
    messaging: Messaging = app.state.messaging
    job = {"jobId": str(uuid.uuid4()), "owner": "alice", "attempts": 1}
    made = {"model": "sentiment", "version": "1.0.0", "count": 3, "labels": {"positive": 2, "negative": 1}}
    record(messaging, "prediction.made", made)
    record(messaging, "job.completed", {**job, "model": "sentiment", "version": "1.0.0", "predictions": []})
    record(messaging, "job.failed", {**job, "model": "iris", "error": {"status": 503}})
    record(messaging, "model.activated", {"model": "iris", "version": "2.0.0"})

    response = TestClient(app).get("/v1/stats")

    assert response.status_code == 200
    assert response.json() == {
        "models": {
            "iris": {"predictions": 0, "labels": {}, "versions": {}, "jobs_completed": 0, "jobs_failed": 1},
            "sentiment": {
                "predictions": 3,
                "labels": {"negative": 1, "positive": 2},
                "versions": {"1.0.0": 3},
                "jobs_completed": 1,
                "jobs_failed": 0,
            },
        },
        "events": {"job.completed": 1, "job.failed": 1, "model.activated": 1, "prediction.made": 1},
        "consumer": {"connected": False, "queue": "events.analytics"},
    }
    messaging.consumer.store.close()


def test_openapi_documents_the_stats_route_with_its_response_model(client: TestClient) -> None:
    operation = client.get("/openapi.json").json()["paths"]["/v1/stats"]["get"]

    assert operation["tags"] == ["stats"]
    assert operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/Stats")

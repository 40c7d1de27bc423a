"""Registration with the Worker's model registry over gRPC (app/worker/registration.py, app/worker/grpc_client.py)
against an in-process fake of it (tests/worker/fake_registry.py) that checks the service token as the Worker does:
what is sent, the retries while the Worker is away, and the active version applied. The HTTP/JSON transport has its
own tests (test_http_client.py)."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Iterator
from datetime import timezone

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.main import create_app
from app.ml.registry import ModelRegistry
from app.worker.registration import ModelRegistration
from tests.worker.fake_registry import TOKEN_KEY, FakeRegistryServer
from tests.support import wait_until

TEXT = "The staff were friendly and the room was spotless."


@pytest.fixture
def fake() -> Iterator[FakeRegistryServer]:
    server = FakeRegistryServer()
    yield server
    server.close()


@pytest.fixture(autouse=True)
def _quick_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ModelRegistration, "INITIAL_BACKOFF_S", 0.05)
    monkeypatch.setattr(ModelRegistration, "MAX_BACKOFF_S", 0.2)


def registering_app(settings: Settings, registry: ModelRegistry, url: str) -> FastAPI:
    """An app with a registry of its own, so switching versions affects no other test."""
    return create_app(
        dataclasses.replace(settings, WORKER_GRPC_URL=url, WORKER_TOKEN_KEY=TOKEN_KEY),
        ModelRegistry(registry.all_versions()),
    )


def served_version(client: TestClient) -> str:
    response = client.post("/v1/predict", json={"model": "sentiment", "inputs": [TEXT]})
    assert response.status_code == 200, response.text
    return str(response.json()["version"])


def test_every_version_is_registered_with_its_metadata(
    fake: FakeRegistryServer, settings: Settings, registry: ModelRegistry
) -> None:
    fake.start()
    app = registering_app(settings, registry, fake.url)

    with TestClient(app) as client:
        wait_until(lambda: app.state.registration.synced, what="registration")
        version = served_version(client)

    sent = {(v.name, v.version): v for v in fake.servicer.requests}
    assert list(sent) == [("iris", "1.0.0"), ("sentiment", "1.0.0"), ("sentiment", "2.0.0")]
    for model in registry.all_versions():
        message = sent[(model.name, model.version)]
        assert message.input_kind == model.input_kind
        assert list(message.labels) == model.labels
        assert message.metrics["held_out_accuracy"] == model.trained.evaluation.held_out_accuracy
        assert message.metrics["test_size"] == model.trained.evaluation.test_size
        assert message.artifact_sha256 == model.trained.artifact_sha256
        assert message.created_at.ToDatetime(tzinfo=timezone.utc) == model.trained.trained_at
        assert message.description == model.description
    assert app.state.registration.registered == list(sent)
    assert version == "1.0.0"  # the first version registered is the registry's active one


def test_the_registrys_active_version_is_served(
    fake: FakeRegistryServer, settings: Settings, registry: ModelRegistry
) -> None:
    fake.servicer.active["sentiment"] = "2.0.0"  # activated before this replica (re)started
    fake.start()
    app = registering_app(settings, registry, fake.url)

    with TestClient(app) as client:
        wait_until(lambda: app.state.registration.synced, what="registration")
        assert served_version(client) == "2.0.0"
        assert client.get("/predict", params={"text": TEXT}).json()["version"] == "2.0.0"


def test_a_version_activated_while_no_event_arrived_is_served_after_the_next_resync(
    fake: FakeRegistryServer, settings: Settings, registry: ModelRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ModelRegistration, "RESYNC_INTERVAL_S", 0.1)
    fake.start()
    app = registering_app(settings, registry, fake.url)

    with TestClient(app) as client:
        wait_until(lambda: app.state.registration.synced, what="registration")
        assert served_version(client) == "1.0.0"
        fake.servicer.active["sentiment"] = "2.0.0"  # activated while this replica missed model.activated

        wait_until(lambda: served_version(client) == "2.0.0", what="the re-sync to switch versions")


def test_registration_retries_while_the_worker_is_away_and_registers_once_it_starts(
    fake: FakeRegistryServer, settings: Settings, registry: ModelRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="app.worker.registration")
    app = registering_app(settings, registry, fake.url)

    with TestClient(app) as client:
        wait_until(lambda: "(attempt 3: UNAVAILABLE)" in caplog.text, what="three failed attempts")
        assert served_version(client) == "1.0.0"  # serving meanwhile, with the default version
        assert app.state.registration.registered == []

        fake.servicer.active["sentiment"] = "2.0.0"
        fake.start()
        wait_until(lambda: app.state.registration.synced, what="registration once the Worker is up")
        assert served_version(client) == "2.0.0"

    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "unreachable" in r.getMessage()]
    registered = [r.getMessage() for r in caplog.records if r.getMessage().startswith("registered ")]
    assert len(warnings) == 1  # the outage is logged once, not per retry
    assert [line.split(" (")[0] for line in registered] == [
        "registered iris 1.0.0",
        "registered sentiment 1.0.0",
        "registered sentiment 2.0.0",
    ]


def test_serving_is_not_delayed_by_a_registry_that_never_answers_and_shutdown_abandons_the_call(
    fake: FakeRegistryServer, settings: Settings, registry: ModelRegistry
) -> None:
    fake.servicer.hang = True
    fake.start()
    configured = dataclasses.replace(
        settings, WORKER_GRPC_URL=fake.url, REGISTRY_CALL_TIMEOUT=600.0, WORKER_TOKEN_KEY=TOKEN_KEY
    )
    app = create_app(configured, ModelRegistry(registry.all_versions()))

    with TestClient(app) as client:
        wait_until(lambda: len(fake.servicer.requests) == 1, what="the first RegisterVersion call")
        assert served_version(client) == "1.0.0"  # answered while the registry holds that call
        assert app.state.registration.synced is False
        stopping = time.monotonic()

    # The call would last ten minutes: shutdown cancels it instead of waiting (a wide bound, 60x under the call's).
    assert time.monotonic() - stopping < 10.0
    wait_until(lambda: fake.servicer.abandoned == 1, what="the registry to see the call abandoned")
    assert fake.servicer.versions == {}


def test_a_refused_version_is_logged_and_the_others_are_still_registered(
    fake: FakeRegistryServer, settings: Settings, registry: ModelRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    fake.servicer.refuse.add(("sentiment", "2.0.0"))
    fake.start()
    app = registering_app(settings, registry, fake.url)

    with TestClient(app):
        wait_until(lambda: app.state.registration.synced, what="registration")

    assert app.state.registration.registered == [("iris", "1.0.0"), ("sentiment", "1.0.0")]
    assert len(fake.servicer.requests) == 3  # not retried: FAILED_PRECONDITION will not change by waiting
    assert "registering sentiment 2.0.0 with the model registry failed: FAILED_PRECONDITION" in caplog.text


def test_without_a_worker_address_nothing_is_registered(settings: Settings, registry: ModelRegistry) -> None:
    app = create_app(dataclasses.replace(settings, WORKER_GRPC_URL=None), registry)

    assert app.state.registration is None


def test_every_call_carries_a_short_lived_token_of_python_inference(
    fake: FakeRegistryServer, settings: Settings, registry: ModelRegistry
) -> None:
    fake.start()
    app = registering_app(settings, registry, fake.url)

    with TestClient(app):
        wait_until(lambda: app.state.registration.synced, what="registration")

    claims = fake.servicer.claims
    assert len(claims) == 3 + 2  # three registrations, two active-version questions: each authenticated
    assert {claim["iss"] for claim in claims} == {"python-inference"}
    assert all(claim["exp"] - claim["iat"] <= 300 for claim in claims)
    assert {claim["scope"] for claim in claims} == {"registry.register registry.read"}


def test_a_token_the_worker_refuses_is_logged_and_not_retried(
    fake: FakeRegistryServer, settings: Settings, registry: ModelRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    fake.start()
    app = create_app(
        dataclasses.replace(settings, WORKER_GRPC_URL=fake.url, WORKER_TOKEN_KEY="another-key-than-the-workers-0123456789"),
        ModelRegistry(registry.all_versions()),
    )

    with TestClient(app):
        wait_until(lambda: app.state.registration.synced, what="registration to give up")

    assert app.state.registration.registered == []
    assert fake.servicer.versions == {}
    assert len(fake.servicer.refused_tokens) == 3 + 2  # once per call: UNAUTHENTICATED will not change by waiting
    assert "registering sentiment 1.0.0 with the model registry failed: UNAUTHENTICATED" in caplog.text

"""Shared fixtures. The models are trained once per session into a temporary MODEL_CACHE_DIR,
set before `app.main` is imported because that module builds the app (and loads models) on import."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

_CACHE_DIR = Path(tempfile.mkdtemp(prefix="python-inference-model-cache-"))
os.environ["MODEL_CACHE_DIR"] = str(_CACHE_DIR)
for _name in (
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_HEADERS",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_RESOURCE_ATTRIBUTES",
    "OTEL_SERVICE_NAME",
    "OTEL_METRIC_EXPORT_INTERVAL",
    "OTEL_BSP_SCHEDULE_DELAY",
    "OTEL_BLRP_SCHEDULE_DELAY",
    "OTEL_BSP_MAX_QUEUE_SIZE",
    "OTEL_BLRP_MAX_QUEUE_SIZE",
    "MAX_BATCH_SIZE",
    "MAX_TEXT_LENGTH",
    "ConnectionStrings__messaging",  # the suite's app runs without a broker; tests/messaging starts one
    "EVENTS_EXCHANGE",
    "ANALYTICS_QUEUE",
    "EVENTS_FLUSH_INTERVAL",
    "EVENTS_FLUSH_MAX_PREDICTIONS",
    "ANALYTICS_DB_PATH",
    "GRPC_PORT",  # tests/rpc starts its own server on a free port
    "GRPC_HOST",
    "WORKER_GRPC_URL",  # registration is off for the suite's app; tests/rpc/test_registration.py runs a fake registry
    "services__worker__grpc__0",
    "REGISTRY_CALL_TIMEOUT",
    "Registry__Transport",  # gRPC unless a test says otherwise
    "REGISTRY_HTTP_ATTEMPTS",
    "WORKER_URL",
    "services__worker__http__0",
    "services__worker__https__0",
    "WORKER_TOKEN_KEY",  # tests/worker gives the fake registry's key where it is wanted
    "WORKER_TOKEN_LIFETIME",
    "SENTIMENT_DEFAULT_VERSION",
    "MODEL_REPOSITORY",  # tests/ml/test_repository.py and the API tests write their own
):
    os.environ.pop(_name, None)

from fastapi import FastAPI  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from app.core.config import Settings  # noqa: E402
from app.main import app as main_app  # noqa: E402
from app.main import create_app  # noqa: E402
from app.ml import cache  # noqa: E402
from app.ml.registry import ModelRegistry  # noqa: E402
from tests.support import RecordingExporter  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def _remove_model_cache() -> Iterator[None]:
    yield
    shutil.rmtree(_CACHE_DIR, ignore_errors=True)
    cache.key_path(_CACHE_DIR).unlink(missing_ok=True)


@pytest.fixture(scope="session")
def model_cache_dir() -> Path:
    return _CACHE_DIR


@pytest.fixture(scope="session")
def app() -> FastAPI:
    return main_app


@pytest.fixture(scope="session")
def settings(app: FastAPI) -> Settings:
    return app.state.settings


@pytest.fixture(scope="session")
def registry(app: FastAPI) -> ModelRegistry:
    return app.state.registry


@pytest.fixture(scope="session")
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def recording_exporter() -> RecordingExporter:
    return RecordingExporter()


@pytest.fixture
def traced_client(settings: Settings, registry: ModelRegistry, recording_exporter: RecordingExporter) -> TestClient:
    """A client for an app whose finished spans land in `recording_exporter.spans`."""
    traced_app = create_app(settings, registry)
    traced_app.state.tracer.exporter = recording_exporter
    return TestClient(traced_app)

"""An app whose lifespan starts the gRPC server on a free loopback port (GRPC_PORT 0), driven by a TestClient,
so one test can ask the same app over HTTP and over gRPC; finished spans land in `recording_exporter.spans`."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import NamedTuple

import grpc
import pytest
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.main import create_app
from app.ml.registry import ModelRegistry
from app.rpc.stubs import health_pb2_grpc, inference_pb2_grpc
from tests.support import RecordingExporter


class RpcStack(NamedTuple):
    http: TestClient
    inference: inference_pb2_grpc.InferenceStub
    health: health_pb2_grpc.HealthStub
    exporter: RecordingExporter
    registry: ModelRegistry  # the app's own: switching its served versions affects no other test


@pytest.fixture
def stack(settings: Settings, registry: ModelRegistry) -> Iterator[RpcStack]:
    own_registry = ModelRegistry(registry.all_versions())
    app = create_app(dataclasses.replace(settings, GRPC_PORT=0), own_registry)
    exporter = RecordingExporter()
    app.state.tracer.exporter = exporter
    with TestClient(app) as http:
        port = app.state.grpc_server.port
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield RpcStack(
                http,
                inference_pb2_grpc.InferenceStub(channel),
                health_pb2_grpc.HealthStub(channel),
                exporter,
                own_registry,
            )

"""GRPC_MAX_CONNECTION_AGE: the server closes a connection once it is that old (GOAWAY, then the grace for calls in
progress), so a client that keeps one connection opens a new one, possibly to another replica, and loses no call."""

from __future__ import annotations

import dataclasses
import socket
import socketserver
import threading
import time
from collections.abc import Iterator

import grpc
import pytest
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.main import create_app
from app.ml.registry import ModelRegistry
from app.rpc.server import connection_options
from app.rpc.stubs import inference_pb2, inference_pb2_grpc

AGE_S = 0.4


@pytest.fixture
def grpc_port(settings: Settings, registry: ModelRegistry) -> Iterator[int]:
    aged = dataclasses.replace(settings, GRPC_PORT=0, GRPC_MAX_CONNECTION_AGE=AGE_S, GRPC_MAX_CONNECTION_AGE_GRACE=5.0)
    app = create_app(aged, ModelRegistry(registry.all_versions()))
    with TestClient(app):
        yield app.state.grpc_server.port


class _CountingRelay(socketserver.ThreadingTCPServer):
    """A loopback TCP relay in front of the server that counts the connections the client opens through it."""

    daemon_threads = True

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.connections = 0
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Relay)


class _Relay(socketserver.BaseRequestHandler):
    server: _CountingRelay

    def handle(self) -> None:
        with self.server.lock:
            self.server.connections += 1
        with socket.create_connection(("127.0.0.1", self.server.upstream_port)) as upstream:
            back = threading.Thread(target=_pipe, args=(upstream, self.request), daemon=True)
            back.start()
            _pipe(self.request, upstream)
            back.join(timeout=5)


def _pipe(source: socket.socket, target: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            target.sendall(data)
    except OSError:
        pass
    finally:
        for end in (source, target):
            try:
                end.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def _calls_through_a_relay(grpc_port: int) -> tuple[int, int]:
    """Predictions without a pause for 4 ages, through a counting relay: (calls answered, connections opened)."""
    with _CountingRelay(grpc_port) as relay:
        threading.Thread(target=relay.serve_forever, daemon=True).start()
        try:
            with grpc.insecure_channel(f"127.0.0.1:{relay.server_address[1]}") as channel:
                stub = inference_pb2_grpc.InferenceStub(channel)
                text = inference_pb2.ModelInput(text="A lovely room.")
                request = inference_pb2.PredictRequest(model="sentiment", input=text)
                answered = 0
                until = time.monotonic() + 4 * AGE_S
                while time.monotonic() < until:
                    assert stub.Predict(request, timeout=10).prediction.label  # a failed call raises
                    answered += 1
        finally:
            relay.shutdown()
    return answered, relay.connections


def test_a_connection_is_replaced_after_its_age_and_every_call_is_answered(grpc_port: int) -> None:
    answered, connections = _calls_through_a_relay(grpc_port)

    assert answered > 0
    assert connections >= 3, (
        f"{connections} connection(s) in {4 * AGE_S} s of calls: the server did not close them at {AGE_S} s"
    )


def test_grpcio_gets_the_age_and_its_grace_in_milliseconds_and_nothing_when_it_is_zero(settings: Settings) -> None:
    five_minutes = dataclasses.replace(settings, GRPC_MAX_CONNECTION_AGE=300.0, GRPC_MAX_CONNECTION_AGE_GRACE=60.0)
    assert connection_options(five_minutes) == [
        ("grpc.max_connection_age_ms", 300_000),
        ("grpc.max_connection_age_grace_ms", 60_000),
    ]
    assert connection_options(dataclasses.replace(settings, GRPC_MAX_CONNECTION_AGE=0.0)) == []

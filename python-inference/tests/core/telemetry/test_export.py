"""The export every signal shares: bounded in memory, off the caller's path, dropping (and counting) rather than
blocking when the collector is away or stuck."""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from app.core.telemetry import OtlpJsonExporter, OtlpLogHandler, encode_logs, signal_url


class StuckCollector:
    """Takes a request and answers only when released: a collector that hangs."""

    def __init__(self) -> None:
        self.arrived = threading.Event()
        self.release = threading.Event()
        self.bodies: list[dict[str, Any]] = []
        stuck = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                stuck.bodies.append(body)
                stuck.arrived.set()
                stuck.release.wait(30)
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1/logs"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def messages(self) -> list[str]:
        return [
            record["body"]["stringValue"]
            for body in self.bodies
            for scope in body["resourceLogs"][0]["scopeLogs"]
            for record in scope["logRecords"]
        ]


@pytest.fixture
def stuck() -> Iterator[StuckCollector]:
    collector = StuckCollector()
    yield collector
    collector.release.set()
    collector.server.shutdown()
    collector.server.server_close()


def _logger(handler: logging.Handler) -> logging.Logger:
    logger = logging.getLogger("tests.export")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.handlers = [handler]
    return logger


def test_a_stuck_collector_never_blocks_logging_and_the_overflow_is_dropped_and_counted(
    stuck: StuckCollector,
) -> None:
    exporter: OtlpJsonExporter = OtlpJsonExporter(
        stuck.url, encode=encode_logs, signal="logs", max_queue_size=10, max_batch_size=1, flush_interval_s=60
    )
    log = _logger(OtlpLogHandler(exporter))
    log.info("first")  # a full batch: the export thread takes it and waits on the collector
    assert stuck.arrived.wait(10), "the first record was not sent"

    writer = threading.Thread(target=lambda: [log.info("record %d", i) for i in range(100)])
    writer.start()
    writer.join(10)

    assert not writer.is_alive(), "logging blocked while the collector hung"
    assert exporter.dropped == 90  # the queue holds 10; the 90 oldest fell out
    stuck.release.set()
    assert exporter.force_flush(timeout=10)
    exporter.shutdown()
    assert stuck.messages() == ["first", *(f"record {i}" for i in range(90, 100))]


def test_without_a_collector_records_are_dropped_and_counted_and_the_failure_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with socket.socket() as probe:  # a port with nothing listening
        probe.bind(("127.0.0.1", 0))
        url = signal_url(f"http://127.0.0.1:{probe.getsockname()[1]}", "logs")
    exporter: OtlpJsonExporter = OtlpJsonExporter(
        url, encode=encode_logs, signal="logs", max_queue_size=5, flush_interval_s=60
    )
    log = _logger(OtlpLogHandler(exporter))

    with caplog.at_level(logging.WARNING, logger="app.core.telemetry"):
        for i in range(50):
            log.info("lost %d", i)
        assert exporter.dropped == 45
        assert exporter.force_flush(timeout=10)  # sending fails: settled, not retried
        log.info("also lost")
        assert exporter.force_flush(timeout=10)
    exporter.shutdown()

    assert exporter.sender.failures == 2
    warnings = [r.getMessage() for r in caplog.records if "OTLP logs export" in r.getMessage()]
    assert len(warnings) == 1 and "45 dropped logs" in warnings[0]

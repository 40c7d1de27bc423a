"""A real OTLP/HTTP collector on 127.0.0.1 for the exporters to post to, and helpers to read what they posted."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class OtlpCollector:
    """A real HTTP server on 127.0.0.1 that records what exporters post to it."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                collector.requests.append({"path": self.path, "headers": self.headers, "body": body})
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def bodies(self, path: str) -> list[dict[str, Any]]:
        return [json.loads(request["body"]) for request in list(self.requests) if request["path"] == path]

    def spans(self) -> list[dict[str, Any]]:
        return [
            span
            for body in self.bodies("/v1/traces")
            for resource_spans in body["resourceSpans"]
            for scope_spans in resource_spans["scopeSpans"]
            for span in scope_spans["spans"]
        ]

    def log_records(self) -> list[tuple[str, dict[str, Any]]]:
        """(logger name, record) for every exported log record."""
        return [
            (scope_logs["scope"]["name"], record)
            for body in self.bodies("/v1/logs")
            for resource_logs in body["resourceLogs"]
            for scope_logs in resource_logs["scopeLogs"]
            for record in scope_logs["logRecords"]
        ]

    def metrics(self) -> list[dict[str, Any]]:
        return [
            metric
            for body in self.bodies("/v1/metrics")
            for resource_metrics in body["resourceMetrics"]
            for scope_metrics in resource_metrics["scopeMetrics"]
            for metric in scope_metrics["metrics"]
        ]


def attributes_of(item: dict[str, Any]) -> dict[str, Any]:
    """OTLP JSON attributes list -> {key: python value} (an intValue, a string in JSON, back to an int)."""
    decoded = {}
    for attribute in item["attributes"]:
        [(kind, value)] = attribute["value"].items()
        decoded[attribute["key"]] = int(value) if kind == "intValue" else value
    return decoded

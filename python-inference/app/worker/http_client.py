"""The registry over HTTP/JSON (the Worker's /v1/registry), the seed's own pattern of FastAPI calling the compiled
service with an async HTTP client: one pooled `httpx.AsyncClient`, a timeout on every call, and a few attempts with
exponential back-off and jitter while the Worker is unreachable, times out or answers 502/503/504. Registration is
idempotent at the Worker, so repeating a POST is safe. Every call carries this service's token."""

from __future__ import annotations

import asyncio
import logging
import random
from typing import Any
from urllib.parse import quote

import httpx

from app.core.service_token import ServiceTokens
from app.ml.model import ServedModel
from app.worker.client import RegistryRefused, RegistryUnavailable

logger = logging.getLogger(__name__)

RETRYABLE_STATUS = frozenset({502, 503, 504})


def version_body(model: ServedModel) -> dict[str, Any]:
    """The same fields as registry.v1's ModelVersion, camelCase, as the Worker's POST /v1/registry/versions takes them."""
    evaluation = model.trained.evaluation
    return {
        "name": model.name,
        "version": model.version,
        "inputKind": model.input_kind,
        "labels": list(model.labels),
        "metrics": {
            "held_out_accuracy": evaluation.held_out_accuracy,
            "train_size": float(evaluation.train_size),
            "test_size": float(evaluation.test_size),
        },
        "artifactSha256": model.trained.artifact_sha256,
        "description": model.description,
        "createdAt": model.trained.trained_at.isoformat(),
    }


class HttpRegistryClient:
    transport = "HTTP/JSON"

    def __init__(
        self,
        url: str,
        tokens: ServiceTokens | None,
        *,
        call_timeout: float,
        attempts: int = 3,
        initial_backoff: float = 0.2,
        max_backoff: float = 2.0,
        max_connections: int = 4,
    ) -> None:
        self.url = url.rstrip("/")
        self._tokens = tokens
        self._timeout = httpx.Timeout(call_timeout)
        self._limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
        self._attempts = attempts
        self._initial_backoff = initial_backoff
        self._max_backoff = max_backoff
        self._client: httpx.AsyncClient | None = None

    def open(self) -> None:
        self._client = httpx.AsyncClient(base_url=self.url, timeout=self._timeout, limits=self._limits)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def register(self, model: ServedModel) -> None:
        await self._send("POST", "/v1/registry/versions", json=version_body(model))

    async def active_version(self, name: str) -> str:
        answer = await self._send("GET", f"/v1/registry/models/{quote(name, safe='')}/active")
        return str(answer["version"])

    async def _send(self, method: str, path: str, json: dict[str, Any] | None = None) -> dict[str, Any]:
        client = self._client
        assert client is not None, "open() first"
        backoff = self._initial_backoff
        for attempt in range(1, self._attempts + 1):
            headers = {"authorization": self._tokens.authorization()} if self._tokens else {}
            try:
                response = await client.request(method, path, json=json, headers=headers)
            except httpx.TransportError as error:  # connect, read and write errors, timeouts
                reason = type(error).__name__
            else:
                if response.status_code < 400:
                    body: dict[str, Any] = response.json()
                    return body
                if response.status_code not in RETRYABLE_STATUS:
                    raise _refusal(response)
                reason = f"HTTP {response.status_code}"
            if attempt == self._attempts:
                raise RegistryUnavailable(reason)
            delay = backoff * random.uniform(0.8, 1.2)
            logger.debug("%s %s%s failed (attempt %d: %s); retrying in %.2f s", method, self.url, path, attempt, reason, delay)
            await asyncio.sleep(delay)
            backoff = min(backoff * 2, self._max_backoff)
        raise AssertionError("unreachable")


def _refusal(response: httpx.Response) -> RegistryRefused:
    """The Worker's problem (RFC 9457) as a refusal: its status and code, and its detail."""
    try:
        problem = response.json()
    except ValueError:
        problem = {}
    code = problem.get("code") if isinstance(problem, dict) else None
    detail = problem.get("detail", "") if isinstance(problem, dict) else ""
    return RegistryRefused(f"HTTP {response.status_code} {code or ''}".strip(), str(detail or ""))

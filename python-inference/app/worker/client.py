"""What registration needs of the Worker's registry, whichever transport carries it (app/worker/grpc_client.py,
app/worker/http_client.py), and the two ways a call can fail."""

from __future__ import annotations

from typing import Protocol

from app.ml.model import ServedModel


class RegistryUnavailable(Exception):
    """The Worker could not be reached or did not answer in time: worth trying again later."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class RegistryRefused(Exception):
    """The Worker answered with a refusal (bad input, conflict, unknown model, not allowed): final for this call."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason} {detail}".strip())
        self.reason = reason
        self.detail = detail


class RegistryClient(Protocol):
    url: str
    transport: str  # "gRPC" or "HTTP/JSON", for the logs

    def open(self) -> None:
        """Create the connection pool (inside the running event loop)."""

    async def close(self) -> None: ...

    async def register(self, model: ServedModel) -> None:
        """Register one loaded version (idempotent at the Worker)."""

    async def active_version(self, name: str) -> str:
        """The version the registry says `name` serves."""

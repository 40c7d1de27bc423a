"""Service settings, read once from the environment (Aspire injects the OTEL_* variables)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

SERVICE_ROOT = Path(__file__).resolve().parents[2]


def _positive_int(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be a positive integer, got {raw!r}") from None
    if value < 1:
        raise ValueError(f"{name} must be a positive integer, got {raw!r}")
    return value


def _optional(environ: Mapping[str, str], name: str) -> str | None:
    value = environ.get(name, "").strip()
    return value or None


def service_url(environ: Mapping[str, str], service: str) -> str | None:
    """The address Aspire's service discovery injects for `service` (`services__<name>__<endpoint>__0`),
    preferring https over http, as the C# resolver does for `https+http://` addresses."""
    for endpoint in ("https", "http"):
        url = _optional(environ, f"services__{service}__{endpoint}__0")
        if url:
            return url.rstrip("/")
    return None


@dataclass(frozen=True)
class Settings:
    MAX_BATCH_SIZE: int = 100
    MAX_TEXT_LENGTH: int = 5000
    MODEL_CACHE_DIR: Path = SERVICE_ROOT / ".model-cache"
    OTEL_SERVICE_NAME: str = "python-inference"
    OTEL_EXPORTER_OTLP_ENDPOINT: str | None = None
    OTEL_EXPORTER_OTLP_HEADERS: str | None = None
    OTEL_EXPORTER_OTLP_PROTOCOL: str | None = None
    OTEL_RESOURCE_ATTRIBUTES: str | None = None
    # The Worker (hosts the model registry Python registers with); WORKER_URL overrides discovery.
    WORKER_URL: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from `environ` (default: the process environment); bad values fail start-up."""
        env = os.environ if environ is None else environ
        cache_dir = _optional(env, "MODEL_CACHE_DIR")
        return cls(
            MAX_BATCH_SIZE=_positive_int(env, "MAX_BATCH_SIZE", cls.MAX_BATCH_SIZE),
            MAX_TEXT_LENGTH=_positive_int(env, "MAX_TEXT_LENGTH", cls.MAX_TEXT_LENGTH),
            MODEL_CACHE_DIR=Path(cache_dir) if cache_dir else cls.MODEL_CACHE_DIR,
            OTEL_SERVICE_NAME=_optional(env, "OTEL_SERVICE_NAME") or cls.OTEL_SERVICE_NAME,
            OTEL_EXPORTER_OTLP_ENDPOINT=_optional(env, "OTEL_EXPORTER_OTLP_ENDPOINT"),
            OTEL_EXPORTER_OTLP_HEADERS=_optional(env, "OTEL_EXPORTER_OTLP_HEADERS"),
            OTEL_EXPORTER_OTLP_PROTOCOL=_optional(env, "OTEL_EXPORTER_OTLP_PROTOCOL"),
            OTEL_RESOURCE_ATTRIBUTES=_optional(env, "OTEL_RESOURCE_ATTRIBUTES"),
            WORKER_URL=_optional(env, "WORKER_URL") or service_url(env, "worker"),
        )

"""Service settings, read once from the environment (Aspire injects the OTEL_* variables and, for a
`WithReference(messaging)`, the broker's `ConnectionStrings__messaging`)."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

SERVICE_ROOT = Path(__file__).resolve().parents[2]
N = TypeVar("N", int, float)


def _setting(
    environ: Mapping[str, str],
    name: str,
    default: N,
    parse: Callable[[str], N],
    valid: Callable[[N], bool],
    expected: str,
) -> N:
    """`name` parsed from `environ`, or `default` when unset; a value that does not parse or is not `valid` stops
    the start, naming the setting and what it must be."""
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = parse(raw)
    except ValueError:
        raise ValueError(f"{name} must be {expected}, got {raw!r}") from None
    if not valid(value):
        raise ValueError(f"{name} must be {expected}, got {raw!r}")
    return value


def _positive_int(environ: Mapping[str, str], name: str, default: int) -> int:
    return _setting(environ, name, default, int, lambda value: value >= 1, "a positive integer")


def _positive_float(environ: Mapping[str, str], name: str, default: float) -> float:
    return _setting(environ, name, default, float, lambda value: 0 < value < math.inf, "a positive number")


def _non_negative_float(environ: Mapping[str, str], name: str, default: float) -> float:
    expected = "a number of seconds (0 or more)"
    return _setting(environ, name, default, float, lambda value: 0 <= value < math.inf, expected)


def _port(environ: Mapping[str, str], name: str) -> int | None:
    raw = environ.get(name, "").strip()
    if not raw:
        return None
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise ValueError(f"{name} must be a TCP port (1-65535), got {raw!r}")
    return int(raw)


def _amqp_url(environ: Mapping[str, str], name: str) -> str | None:
    """The broker's address as Aspire gives it, `amqp://user:pass@host:port` (no vhost path: the default
    vhost `/`); a trailing slash or an explicit vhost (`/name`, `/%2F`) is accepted as well."""
    url = _optional(environ, name)
    if url is not None and not url.lower().startswith(("amqp://", "amqps://")):
        raise ValueError(f"{name} must be an amqp:// or amqps:// URL")  # never echo it: it holds a password
    return url


def _database_provider(environ: Mapping[str, str], name: str) -> str:
    """`sqlite` (the default) or `postgres`, as the AppHost passes it to every service (`Database:Provider`)."""
    raw = (environ.get(name, "").strip() or "sqlite").lower()
    if raw not in ("sqlite", "postgres"):
        raise ValueError(f"{name} must be sqlite or postgres, got {raw!r}")
    return raw


def _fault_delay(environ: Mapping[str, str], name: str, environment: str) -> float:
    """A delay injected before every model call, for the chaos run (scripts/chaos/run.sh): 0 (off) by default,
    and refused where the environment is Production (also the default), so no deployment can be slowed by it."""
    raw = environ.get(name, "").strip()
    if not raw:
        return 0.0
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number of seconds, got {raw!r}") from None
    if not 0 <= value <= 600:
        raise ValueError(f"{name} must be 0 to 600 seconds, got {raw!r}")
    if value > 0 and environment.lower() == "production":
        raise ValueError(f"{name} injects a fault and is refused in Production (ENVIRONMENT={environment})")
    return value


BUILT_IN_MODELS = ("sentiment", "iris")  # the names BUILTIN_MODELS may give; app/ml/registry.py loads each


def _built_in_models(environ: Mapping[str, str], name: str) -> tuple[str, ...]:
    """Which built-in models to serve: unset, all; `none`, none; else a comma-separated list of their names."""
    raw = environ.get(name, "").strip()
    if not raw:
        return BUILT_IN_MODELS
    if raw.lower() == "none":
        return ()
    chosen = [part.strip() for part in raw.split(",") if part.strip()]
    unknown = [part for part in chosen if part not in BUILT_IN_MODELS]
    if unknown or not chosen:
        raise ValueError(f"{name} must be none or some of {', '.join(BUILT_IN_MODELS)} (comma-separated), got {raw!r}")
    return tuple(model for model in BUILT_IN_MODELS if model in chosen)


def _optional(environ: Mapping[str, str], name: str) -> str | None:
    value = environ.get(name, "").strip()
    return value or None


def _grpc_url(environ: Mapping[str, str], name: str) -> str | None:
    """An http:// or https:// address with host and port, as Aspire injects it for a gRPC endpoint."""
    url = _optional(environ, name)
    if url is None:
        return None
    parsed = urlsplit(url)
    try:
        port = parsed.port
    except ValueError:
        port = None
    if parsed.scheme not in ("http", "https") or not parsed.hostname or port is None:
        raise ValueError(f"{name} must be http://host:port or https://host:port, got {url!r}")
    return url.rstrip("/")


def _registry_transport(environ: Mapping[str, str], name: str) -> str:
    """`grpc` (the default) or `http`, as the AppHost passes it (`Registry:Transport`, `Grpc` or `Http`)."""
    raw = (environ.get(name, "").strip() or "grpc").lower()
    if raw not in ("grpc", "http"):
        raise ValueError(f"{name} must be Grpc or Http, got {raw!r}")
    return raw


def grpc_target(url: str) -> tuple[str, bool]:
    """`http://localhost:12345` -> ("localhost:12345", False): the channel target and whether it needs TLS."""
    parsed = urlsplit(url)
    return parsed.netloc, parsed.scheme == "https"


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
    MAX_BODY_BYTES: int = 1024 * 1024  # a larger HTTP request body is 413, as at the gateway
    MODEL_CACHE_DIR: Path = SERVICE_ROOT / ".model-cache"
    # Models trained elsewhere, served beside the built-in ones: <name>/<version>/model.joblib + model.json each
    # (app/ml/repository.py). Unset: the built-in models only. Anything wrong in it stops the start-up.
    MODEL_REPOSITORY: Path | None = None
    # The built-in models served (BUILTIN_MODELS: `none`, or some of sentiment,iris; unset: both). A repository's
    # models are served either way; with neither there is nothing to serve, and the start-up stops.
    BUILTIN_MODELS: tuple[str, ...] = BUILT_IN_MODELS
    OTEL_SERVICE_NAME: str = "python-inference"
    OTEL_EXPORTER_OTLP_ENDPOINT: str | None = None
    OTEL_EXPORTER_OTLP_HEADERS: str | None = None
    OTEL_EXPORTER_OTLP_PROTOCOL: str | None = None
    OTEL_RESOURCE_ATTRIBUTES: str | None = None
    # Which traces are kept, as the OpenTelemetry SDKs read them (app/core/telemetry/sampling.py): unset, every trace
    # is (`parentbased_always_on`); in production e.g. `parentbased_traceidratio` with the ratio in the argument.
    OTEL_TRACES_SAMPLER: str | None = None
    OTEL_TRACES_SAMPLER_ARG: str | None = None
    # Telemetry export (the OpenTelemetry SDK's variables, in milliseconds and items; Aspire sets the delays to 1 s).
    OTEL_METRIC_EXPORT_INTERVAL: int = 60000
    OTEL_BSP_SCHEDULE_DELAY: int = 1000
    OTEL_BLRP_SCHEDULE_DELAY: int = 1000
    OTEL_BSP_MAX_QUEUE_SIZE: int = 2048
    OTEL_BLRP_MAX_QUEUE_SIZE: int = 2048
    # The Worker (hosts the model registry Python registers with); WORKER_URL overrides discovery.
    WORKER_URL: str | None = None
    # The Worker's gRPC endpoint (registry.v1.ModelRegistry); without it python-inference registers nothing and
    # serves each model's default version until a model.activated event says otherwise.
    WORKER_GRPC_URL: str | None = None
    REGISTRY_CALL_TIMEOUT: float = 5.0  # seconds per registry call (each retry is a new call)
    # How registration reaches the Worker: `grpc` (registry.v1, WORKER_GRPC_URL) or `http` (/v1/registry, WORKER_URL).
    REGISTRY_TRANSPORT: str = "grpc"
    # Over HTTP: attempts per call while the Worker is unreachable or answers 502/503/504, with exponential back-off.
    REGISTRY_HTTP_ATTEMPTS: int = 3
    # This service's key for its tokens to the Worker (an AppHost secret parameter); without it calls carry no token
    # and the Worker refuses them.
    WORKER_TOKEN_KEY: str | None = None
    WORKER_TOKEN_LIFETIME: float = 120.0  # seconds; a token is renewed after half of it
    # The sentiment version served first (until the registry names the active one); unset, the first built-in
    # (1.0.0), or a repository's highest when the built-in sentiment is not served.
    SENTIMENT_DEFAULT_VERSION: str | None = None
    # The RabbitMQ broker; without it messaging is off and the service only serves HTTP.
    MESSAGING_URL: str | None = None
    EVENTS_EXCHANGE: str = "events"
    ANALYTICS_QUEUE: str = "events.analytics"
    EVENTS_FLUSH_INTERVAL: float = 1.0  # seconds between prediction.made flushes
    EVENTS_FLUSH_MAX_PREDICTIONS: int = 1000  # pending predictions that trigger an early flush
    ANALYTICS_DB_PATH: Path = SERVICE_ROOT / ".state" / "analytics.db"
    # Where analytics live: `sqlite` (ANALYTICS_DB_PATH) or `postgres` (the `analyticsdb` connection string, shared
    # by every replica, so /v1/stats is the same whichever answers).
    DATABASE_PROVIDER: str = "sqlite"
    ANALYTICS_DATABASE: str | None = None
    # The gRPC server (app/rpc) listens on GRPC_HOST:GRPC_PORT next to uvicorn; without GRPC_PORT it does not start.
    # 0 (settings made in code, e.g. tests) picks a free port.
    GRPC_PORT: int | None = None
    GRPC_HOST: str = "127.0.0.1"
    # Threads that run the models (app/ml/executor.py), off the event loop; about one per core.
    MODEL_THREADS: int = 2
    # Calls in progress at once: gRPC inference calls (beyond it UNAVAILABLE `overloaded`, app/rpc/calls.py) and HTTP
    # requests other than the probes (beyond it 503 `overloaded`, app/api/concurrency.py).
    GRPC_MAX_CONCURRENT_RPCS: int = 256
    HTTP_MAX_CONCURRENT_REQUESTS: int = 256
    # Seconds a gRPC connection is kept (grpcio adds up to 10 % either way); then the server asks the client to go
    # (GOAWAY), the calls in progress get GRPC_MAX_CONNECTION_AGE_GRACE more, and the client's next call opens a new
    # connection, to whichever replica its address gives then. So a caller that keeps one connection (behind a
    # ClusterIP Service or a TCP load balancer) does not stay on one replica for ever. 0 keeps connections open. The
    # grace covers the longest deadline a caller gives a call (the Worker's Inference:CallTimeout, 60 s), so no call
    # that would have been answered is cut by it.
    GRPC_MAX_CONNECTION_AGE: float = 300.0
    GRPC_MAX_CONNECTION_AGE_GRACE: float = 60.0
    # Development, Production, ...: as ASP.NET Core's environment, Production unless said otherwise.
    ENVIRONMENT: str = "Production"
    # Seconds every model call waits first (a stalled model, for the chaos run); 0 is off, refused in Production.
    FAULT_PREDICTION_DELAY: float = 0.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from `environ` (default: the process environment); bad values fail start-up."""
        env = os.environ if environ is None else environ
        cache_dir = _optional(env, "MODEL_CACHE_DIR")
        repository = _optional(env, "MODEL_REPOSITORY")
        analytics_db = _optional(env, "ANALYTICS_DB_PATH")
        provider = _database_provider(env, "Database__Provider")
        analytics_database = _optional(env, "ConnectionStrings__analyticsdb")
        environment = _optional(env, "ENVIRONMENT") or cls.ENVIRONMENT
        if provider == "postgres" and analytics_database is None:
            raise ValueError("Database__Provider=postgres needs ConnectionStrings__analyticsdb")
        built_in = _built_in_models(env, "BUILTIN_MODELS")
        if not built_in and repository is None:
            raise ValueError("BUILTIN_MODELS=none needs MODEL_REPOSITORY: there would be no model to serve")
        return cls(
            MAX_BATCH_SIZE=_positive_int(env, "MAX_BATCH_SIZE", cls.MAX_BATCH_SIZE),
            MAX_TEXT_LENGTH=_positive_int(env, "MAX_TEXT_LENGTH", cls.MAX_TEXT_LENGTH),
            MAX_BODY_BYTES=_positive_int(env, "MAX_BODY_BYTES", cls.MAX_BODY_BYTES),
            MODEL_CACHE_DIR=Path(cache_dir) if cache_dir else cls.MODEL_CACHE_DIR,
            MODEL_REPOSITORY=Path(repository) if repository else None,
            BUILTIN_MODELS=built_in,
            OTEL_SERVICE_NAME=_optional(env, "OTEL_SERVICE_NAME") or cls.OTEL_SERVICE_NAME,
            OTEL_EXPORTER_OTLP_ENDPOINT=_optional(env, "OTEL_EXPORTER_OTLP_ENDPOINT"),
            OTEL_EXPORTER_OTLP_HEADERS=_optional(env, "OTEL_EXPORTER_OTLP_HEADERS"),
            OTEL_EXPORTER_OTLP_PROTOCOL=_optional(env, "OTEL_EXPORTER_OTLP_PROTOCOL"),
            OTEL_RESOURCE_ATTRIBUTES=_optional(env, "OTEL_RESOURCE_ATTRIBUTES"),
            OTEL_TRACES_SAMPLER=_optional(env, "OTEL_TRACES_SAMPLER"),
            OTEL_TRACES_SAMPLER_ARG=_optional(env, "OTEL_TRACES_SAMPLER_ARG"),
            **{
                name: _positive_int(env, name, getattr(cls, name))
                for name in (
                    "OTEL_METRIC_EXPORT_INTERVAL",
                    "OTEL_BSP_SCHEDULE_DELAY",
                    "OTEL_BLRP_SCHEDULE_DELAY",
                    "OTEL_BSP_MAX_QUEUE_SIZE",
                    "OTEL_BLRP_MAX_QUEUE_SIZE",
                )
            },
            WORKER_URL=_optional(env, "WORKER_URL") or service_url(env, "worker"),
            WORKER_GRPC_URL=_grpc_url(env, "WORKER_GRPC_URL") or _grpc_url(env, "services__worker__grpc__0"),
            REGISTRY_CALL_TIMEOUT=_positive_float(env, "REGISTRY_CALL_TIMEOUT", cls.REGISTRY_CALL_TIMEOUT),
            REGISTRY_TRANSPORT=_registry_transport(env, "Registry__Transport"),
            REGISTRY_HTTP_ATTEMPTS=_positive_int(env, "REGISTRY_HTTP_ATTEMPTS", cls.REGISTRY_HTTP_ATTEMPTS),
            WORKER_TOKEN_KEY=_optional(env, "WORKER_TOKEN_KEY"),
            WORKER_TOKEN_LIFETIME=_positive_float(env, "WORKER_TOKEN_LIFETIME", cls.WORKER_TOKEN_LIFETIME),
            SENTIMENT_DEFAULT_VERSION=_optional(env, "SENTIMENT_DEFAULT_VERSION"),
            MESSAGING_URL=_amqp_url(env, "ConnectionStrings__messaging"),
            EVENTS_EXCHANGE=_optional(env, "EVENTS_EXCHANGE") or cls.EVENTS_EXCHANGE,
            ANALYTICS_QUEUE=_optional(env, "ANALYTICS_QUEUE") or cls.ANALYTICS_QUEUE,
            EVENTS_FLUSH_INTERVAL=_positive_float(env, "EVENTS_FLUSH_INTERVAL", cls.EVENTS_FLUSH_INTERVAL),
            EVENTS_FLUSH_MAX_PREDICTIONS=_positive_int(
                env, "EVENTS_FLUSH_MAX_PREDICTIONS", cls.EVENTS_FLUSH_MAX_PREDICTIONS
            ),
            ANALYTICS_DB_PATH=Path(analytics_db) if analytics_db else cls.ANALYTICS_DB_PATH,
            DATABASE_PROVIDER=provider,
            ANALYTICS_DATABASE=analytics_database,
            GRPC_PORT=_port(env, "GRPC_PORT"),
            GRPC_HOST=_optional(env, "GRPC_HOST") or cls.GRPC_HOST,
            MODEL_THREADS=_positive_int(env, "MODEL_THREADS", cls.MODEL_THREADS),
            GRPC_MAX_CONCURRENT_RPCS=_positive_int(env, "GRPC_MAX_CONCURRENT_RPCS", cls.GRPC_MAX_CONCURRENT_RPCS),
            HTTP_MAX_CONCURRENT_REQUESTS=_positive_int(
                env, "HTTP_MAX_CONCURRENT_REQUESTS", cls.HTTP_MAX_CONCURRENT_REQUESTS
            ),
            GRPC_MAX_CONNECTION_AGE=_non_negative_float(env, "GRPC_MAX_CONNECTION_AGE", cls.GRPC_MAX_CONNECTION_AGE),
            GRPC_MAX_CONNECTION_AGE_GRACE=_non_negative_float(
                env, "GRPC_MAX_CONNECTION_AGE_GRACE", cls.GRPC_MAX_CONNECTION_AGE_GRACE
            ),
            ENVIRONMENT=environment,
            FAULT_PREDICTION_DELAY=_fault_delay(env, "FAULT_PREDICTION_DELAY", environment),
        )

"""Entry point: `uvicorn app.main:app`. A request goes through the telemetry middleware, then the
routers in app/api/routes, which hand it to the serving core (app/ml/serving.py); problems (app/core/problems.py)
become problem details in app/api/errors.py. With GRPC_PORT set, the same core answers over gRPC too (app/rpc);
with a broker configured, events come and go through app/messaging;
with the Worker's address known, the model versions are registered with its registry over gRPC or HTTP/JSON
(app/worker/registration.py).
All are started and stopped by the app's lifespan."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from app.api.concurrency import ConcurrencyLimitMiddleware
from app.api.errors import internal_error_response, register_error_handlers
from app.api.limits import BodyLimitMiddleware
from app.api.routes import health, models, predictions, stats
from app.core.config import Settings
from app.core.telemetry import TelemetryMiddleware, configure_logging, create_telemetry
from app.messaging.lifecycle import Messaging
from app.ml import sentiment
from app.ml.counter import PredictionCounter
from app.ml.model import ServedModel
from app.ml.registry import ModelRegistry, load_models
from app.ml.repository import RepositoryError
from app.ml.serving import ModelServing
from app.core.service_token import ServiceTokens
from app.rpc.server import GrpcServer
from app.worker.client import RegistryClient
from app.worker.grpc_client import GrpcRegistryClient
from app.worker.registration import ModelRegistration

logger = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, registry: ModelRegistry | None = None) -> FastAPI:
    """Build the service; loads (or trains and caches) the models unless a registry is given.

    Models load here rather than in a startup hook: that works the same on every FastAPI and
    Starlette version this service supports, and uvicorn serves nothing before it is done.
    """
    settings = settings or Settings.from_env()
    configure_logging()
    # First, so that what the start-up logs reaches the dashboard too.
    telemetry = create_telemetry(settings)
    if registry is None:
        registry = _load_models(settings)
    logger.info("worker (model registry) discovered at %s", settings.WORKER_URL or "<not configured>")

    app = FastAPI(
        title="python-inference",
        version="1.0.0",
        description="Sentiment and iris predictions from scikit-learn models.",
    )
    app.state.settings = settings
    app.state.registry = registry
    app.state.telemetry = telemetry
    app.state.tracer = tracer = telemetry.tracer
    app.state.prediction_counter = counter = PredictionCounter(settings.EVENTS_FLUSH_MAX_PREDICTIONS)
    # The one serving core behind both entrances: the HTTP routes (app/api/routes) and gRPC (app/rpc).
    app.state.serving = serving = ModelServing(registry, settings, tracer, counter)
    app.state.messaging = messaging = (
        Messaging(settings, counter, tracer, registry) if settings.MESSAGING_URL else None
    )
    if messaging is None:
        logger.info("messaging disabled: ConnectionStrings__messaging is not set")
    app.state.grpc_server = grpc_server = (
        GrpcServer(settings, serving) if settings.GRPC_PORT is not None else None
    )
    if grpc_server is None:
        logger.info("gRPC disabled: GRPC_PORT is not set")
    client = _registry_client(settings)
    app.state.registration = registration = ModelRegistration(registry, client) if client is not None else None
    # Set on the router, not as FastAPI(lifespan=...): FastAPI 0.92 (Debian's) has no such parameter.
    app.router.lifespan_context = _lifespan(grpc_server, messaging, registration)

    register_error_handlers(app)
    # Inside the telemetry middleware, so a refusal still carries the trace headers and quotes the trace id.
    app.add_middleware(ConcurrencyLimitMiddleware, limit=settings.HTTP_MAX_CONCURRENT_REQUESTS)
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=settings.MAX_BODY_BYTES)
    app.add_middleware(TelemetryMiddleware, tracer=tracer, error_response=internal_error_response)
    app.include_router(health.router)
    app.include_router(models.router)
    app.include_router(predictions.router)
    app.include_router(stats.router)
    return app


def _lifespan(
    grpc_server: GrpcServer | None, messaging: Messaging | None, registration: ModelRegistration | None
) -> Any:
    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        if grpc_server is not None:
            await grpc_server.start()
        if registration is not None:
            registration.start()  # in the background: serving never waits for the Worker
        try:
            if messaging is None:
                yield
            else:
                async with messaging.lifespan(app):
                    yield
        finally:
            if registration is not None:
                await registration.stop()
            if grpc_server is not None:
                await grpc_server.stop()

    return lifespan


def _registry_client(settings: Settings) -> RegistryClient | None:
    """The Worker's registry over the configured transport, or None (registration off) without its address."""
    if settings.WORKER_TOKEN_KEY is None:
        logger.warning("WORKER_TOKEN_KEY is not set: the Worker will refuse this service's registry calls")
    tokens = (
        ServiceTokens(settings.WORKER_TOKEN_KEY, lifetime=settings.WORKER_TOKEN_LIFETIME)
        if settings.WORKER_TOKEN_KEY
        else None
    )
    if settings.REGISTRY_TRANSPORT == "http":
        if not settings.WORKER_URL:
            logger.info("model registration disabled: neither WORKER_URL nor services__worker__http__0 is set")
            return None
        # Imported here: httpx takes about half a second to import, which every start under the default gRPC paid.
        from app.worker.http_client import HttpRegistryClient

        return HttpRegistryClient(
            settings.WORKER_URL,
            tokens,
            call_timeout=settings.REGISTRY_CALL_TIMEOUT,
            attempts=settings.REGISTRY_HTTP_ATTEMPTS,
        )
    if not settings.WORKER_GRPC_URL:
        logger.info("model registration disabled: neither WORKER_GRPC_URL nor services__worker__grpc__0 is set")
        return None
    return GrpcRegistryClient(
        settings.WORKER_GRPC_URL,
        tokens,
        call_timeout=settings.REGISTRY_CALL_TIMEOUT,
        reconnect_backoff=(ModelRegistration.INITIAL_BACKOFF_S, ModelRegistration.MAX_BACKOFF_S),
    )


def _load_models(settings: Settings) -> ModelRegistry:
    started = time.perf_counter()
    try:
        registry = load_models(
            settings.MODEL_CACHE_DIR,
            {sentiment.NAME: settings.SENTIMENT_DEFAULT_VERSION} if settings.SENTIMENT_DEFAULT_VERSION else None,
            settings.MODEL_REPOSITORY,
            settings.BUILTIN_MODELS,
        )
    except RepositoryError as error:
        # Said once, plainly, before the traceback: a model that cannot be served as declared stops the start-up.
        logger.error("model repository %s cannot be served: %s", settings.MODEL_REPOSITORY, error)
        raise
    for model in registry.all_versions():
        logger.info(
            "model %s %s %s, held-out accuracy %.4f (%d train / %d test), sha256 %s",
            model.name,
            model.version,
            _origin(model),
            model.trained.evaluation.held_out_accuracy,
            model.trained.evaluation.train_size,
            model.trained.evaluation.test_size,
            model.trained.artifact_sha256[:12],
        )
    served = ", ".join(f"{model.name} {model.version}" for model in registry)
    logger.info("models ready in %.3f s; serving %s", time.perf_counter() - started, served)
    return registry


def _origin(model: ServedModel) -> str:
    if model.trained.loaded_from is not None:
        return f"loaded from {model.trained.loaded_from}"
    return "loaded from cache" if model.trained.from_cache else "trained"


app = create_app()

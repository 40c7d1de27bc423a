"""Shared request dependencies: the app-wide objects that create_app() put on app.state.

They are `async def` so FastAPI calls them inline instead of in its thread pool.
"""

from __future__ import annotations

from fastapi import Request

from app.api.errors import not_ready
from app.core.config import Settings
from app.core.telemetry import Tracer
from app.messaging.lifecycle import Messaging
from app.messaging.publisher import PredictionCounter
from app.ml.registry import ModelRegistry


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_registry(request: Request) -> ModelRegistry:
    """The loaded models; answers 503 not_ready until they are loaded."""
    registry: ModelRegistry = request.app.state.registry
    if not registry.ready:
        raise not_ready()
    return registry


async def get_tracer(request: Request) -> Tracer:
    return request.app.state.tracer


async def get_prediction_counter(request: Request) -> PredictionCounter:
    return request.app.state.prediction_counter


async def get_messaging(request: Request) -> Messaging | None:
    """None when no broker is configured."""
    return request.app.state.messaging

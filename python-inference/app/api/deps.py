"""Shared request dependencies: the app-wide objects that create_app() put on app.state.

They are `async def` so FastAPI calls them inline instead of in its thread pool.
"""

from __future__ import annotations

from fastapi import Request

from app.core.config import Settings
from app.messaging.lifecycle import Messaging
from app.ml.serving import ModelServing


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_serving(request: Request) -> ModelServing:
    """The serving core; answers 503 not_ready until the models are loaded (before the body is looked at)."""
    serving: ModelServing = request.app.state.serving
    serving.require_ready()
    return serving


async def get_messaging(request: Request) -> Messaging | None:
    """None when no broker is configured."""
    return request.app.state.messaging

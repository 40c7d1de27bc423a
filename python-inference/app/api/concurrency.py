"""A bound on HTTP requests in progress (HTTP_MAX_CONCURRENT_REQUESTS): beyond it a request is answered 503
`overloaded` with `Retry-After` at once, rather than waiting on the event loop without end. Health and liveness probes
are neither counted nor refused: an orchestrator must see a busy service as alive."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from app.api.errors import problem_error_response
from app.core.problems import overloaded
from app.core.telemetry.http import is_probe


class ConcurrencyLimitMiddleware:
    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit
        self.in_progress = 0  # touched on the event loop only

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or is_probe(scope["path"]):
            await self.app(scope, receive, send)
            return
        if self.in_progress >= self.limit:
            await problem_error_response(scope["path"], overloaded(self.limit))(scope, receive, send)
            return
        self.in_progress += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_progress -= 1

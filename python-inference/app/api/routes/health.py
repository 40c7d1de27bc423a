from __future__ import annotations

from fastapi import APIRouter, Depends

from app.api.deps import get_serving
from app.api.errors import problem_responses
from app.ml.serving import ModelServing
from app.schemas.health import HealthStatus

router = APIRouter(tags=["health"])


@router.get(
    "/health",
    response_model=HealthStatus,
    summary="Readiness: 200 once the models are loaded, else 503",
    responses=problem_responses(503),
)
async def health(serving: ModelServing = Depends(get_serving)) -> HealthStatus:
    return HealthStatus(status="healthy")


@router.get("/alive", response_model=HealthStatus, summary="Liveness: 200 while the process serves requests")
async def alive() -> HealthStatus:
    return HealthStatus(status="alive")

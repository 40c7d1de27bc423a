from __future__ import annotations

from fastapi import APIRouter, Depends

from app.api.deps import get_serving
from app.api.errors import problem_responses
from app.ml.serving import ModelServing
from app.schemas.models import ModelList

router = APIRouter(prefix="/v1/models", tags=["models"])


@router.get("", response_model=ModelList, summary="List the served models", responses=problem_responses(503))
async def list_models(serving: ModelServing = Depends(get_serving)) -> ModelList:
    return ModelList(models=serving.models())

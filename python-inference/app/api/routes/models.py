from __future__ import annotations

from fastapi import APIRouter, Depends

from app.api.deps import get_registry
from app.api.errors import problem_responses
from app.ml.registry import ModelRegistry
from app.schemas.models import ModelInfo, ModelList

router = APIRouter(prefix="/v1/models", tags=["models"])


@router.get("", response_model=ModelList, summary="List the served models", responses=problem_responses(503))
async def list_models(registry: ModelRegistry = Depends(get_registry)) -> ModelList:
    return ModelList(
        models=[
            ModelInfo(
                name=model.name,
                version=model.version,
                input_kind=model.input_kind,
                labels=model.labels,
                held_out_accuracy=model.trained.evaluation.held_out_accuracy,
                train_size=model.trained.evaluation.train_size,
                test_size=model.trained.evaluation.test_size,
                artifact_sha256=model.trained.artifact_sha256,
                description=model.description,
            )
            for model in registry
        ]
    )

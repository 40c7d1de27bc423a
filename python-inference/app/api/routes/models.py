from __future__ import annotations

from fastapi import APIRouter, Depends

from app.api.deps import get_registry
from app.api.errors import problem_responses
from app.ml.model import ServedModel
from app.ml.registry import ModelRegistry
from app.schemas.models import ModelInfo, ModelList, ModelVersionInfo

router = APIRouter(prefix="/v1/models", tags=["models"])


@router.get("", response_model=ModelList, summary="List the served models", responses=problem_responses(503))
async def list_models(registry: ModelRegistry = Depends(get_registry)) -> ModelList:
    return ModelList(models=[_model_info(model, registry.versions(model.name)) for model in registry])


def _model_info(served: ServedModel, versions: list[ServedModel]) -> ModelInfo:
    evaluation = served.trained.evaluation
    return ModelInfo(
        name=served.name,
        version=served.version,
        input_kind=served.input_kind,
        labels=served.labels,
        held_out_accuracy=evaluation.held_out_accuracy,
        train_size=evaluation.train_size,
        test_size=evaluation.test_size,
        artifact_sha256=served.trained.artifact_sha256,
        description=served.description,
        versions=[
            ModelVersionInfo(
                version=model.version,
                served=model is served,
                held_out_accuracy=model.trained.evaluation.held_out_accuracy,
                train_size=model.trained.evaluation.train_size,
                test_size=model.trained.evaluation.test_size,
                artifact_sha256=model.trained.artifact_sha256,
                trained_at=model.trained.trained_at,
                description=model.description,
            )
            for model in versions
        ],
    )

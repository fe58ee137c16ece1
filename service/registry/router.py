"""Model registry endpoints."""

from __future__ import annotations

from fastapi import APIRouter

from service.deps import RuntimeDep, SessionDep
from service.registry import service
from service.registry.schemas import ModelVersionOut, PromoteIn

router = APIRouter(prefix="/models", tags=["models"])


@router.get("", response_model=list[ModelVersionOut])
def list_models(session: SessionDep) -> list[ModelVersionOut]:
    """Every registered model version."""
    return [ModelVersionOut.model_validate(v) for v in service.list_versions(session=session)]


@router.get("/{version_id}", response_model=ModelVersionOut)
def get_model(version_id: int, session: SessionDep) -> ModelVersionOut:
    """One model version with its metrics and training data."""
    return ModelVersionOut.model_validate(service.get_version(session=session, version_id=version_id))


@router.post("/{version_id}/promote", response_model=ModelVersionOut)
def promote_model(version_id: int, body: PromoteIn, session: SessionDep,
                  runtime: RuntimeDep) -> ModelVersionOut:
    """Make a version the production model; every worker switches within ``model_refresh_s``."""
    version = runtime.promote(session=session, version_id=version_id, by=body.by, reason=body.reason)
    session.commit()
    runtime.invalidate()
    return ModelVersionOut.model_validate(version)

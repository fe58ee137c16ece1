"""Model registry endpoints."""

from __future__ import annotations

from fastapi import APIRouter

from service.auth.deps import AdminDep, actor_of
from service.deps import IdPath, RuntimeDep, SessionDep
from service.problems import problems
from service.registry import service
from service.registry.schemas import ModelVersionOut, PromoteIn

router = APIRouter(prefix="/models", tags=["models"])


@router.get("", response_model=list[ModelVersionOut])
def list_models(session: SessionDep) -> list[ModelVersionOut]:
    """Every registered model version."""
    return [ModelVersionOut.model_validate(v) for v in service.list_versions(session=session)]


@router.get("/{version_id}", response_model=ModelVersionOut)
def get_model(version_id: IdPath, session: SessionDep) -> ModelVersionOut:
    """One model version with its metrics and training data."""
    return ModelVersionOut.model_validate(service.get_version(session=session, version_id=version_id))


@router.post("/{version_id}/promote", response_model=ModelVersionOut, responses=problems(409))
def promote_model(version_id: IdPath, body: PromoteIn, session: SessionDep,
                  runtime: RuntimeDep, principal: AdminDep) -> ModelVersionOut:
    """Make a version the production model; every worker switches within ``model_refresh_s``.
    Needs the ``admin`` scope."""
    by = actor_of(principal, body.by)
    version = runtime.promote(session=session, version_id=version_id, by=by, reason=body.reason)
    session.commit()
    runtime.invalidate()
    return ModelVersionOut.model_validate(version)

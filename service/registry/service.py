"""Model registry: content-addressed artifacts plus ``model_versions`` rows; promote/rollback."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.auth import audit
from service.db import utcnow
from service.errors import Conflict, NotFound
from service.registry.tables import ModelVersion
from service.settings import BUNDLED_MODEL_DIR, Settings

DEFAULT_PRODUCTION = "family1d-default"
DEFAULT_CANDIDATES = ("family2d-default", "cnn1d-default", "cnn2d-default")


def _store_artifact(json_path: Path, artifacts_dir: Path, sha256: str) -> Path:
    """Copy a checkpoint (JSON + weights) to ``artifacts_dir/<sha256>/`` once; return the JSON."""
    dest = artifacts_dir / sha256
    target = dest / json_path.name
    if target.exists():
        return target
    tmp = artifacts_dir / f".{sha256}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for src in (json_path, json_path.with_suffix(".safetensors")):
        shutil.copy2(src, tmp / src.name)
    try:
        tmp.rename(dest)  # atomic: a half-copied artifact is never visible under its hash
    except OSError:  # another process stored it first
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def register_checkpoint(
    *, session: Session, settings: Settings, json_path: Path, status: str = "candidate"
) -> ModelVersion:
    """Register a checkpoint (idempotent by weights sha256) and store its artifact."""
    meta = json.loads(Path(json_path).read_text())
    sha = meta["weights_sha256"]
    existing = session.scalar(select(ModelVersion).where(ModelVersion.sha256 == sha))
    if existing is not None:
        return existing
    stored = _store_artifact(Path(json_path), settings.artifacts_dir, sha)
    version = ModelVersion(
        name=meta["name"],
        architecture=meta["architecture"],
        artifact_path=str(stored.relative_to(settings.data_root)),
        sha256=sha,
        status="candidate",
        classes=meta["classes"],
        input_spec=meta["input_spec"],
        metrics=meta.get("metrics", {}),
        training_data=meta.get("training_data", {}),
    )
    session.add(version)
    session.flush()
    if status == "production":
        promote(session=session, version_id=version.id, by="registry", reason="initial default")
    return version


def list_versions(*, session: Session) -> list[ModelVersion]:
    """Every registered model version, oldest first."""
    return list(session.scalars(select(ModelVersion).order_by(ModelVersion.id.desc())))


def get_version(*, session: Session, version_id: int) -> ModelVersion:
    """One model version, or NotFound."""
    version = session.get(ModelVersion, version_id)
    if version is None:
        raise NotFound(f"model version {version_id} not found")
    return version


def production(*, session: Session) -> ModelVersion | None:
    """The production model version (None before the first promotion)."""
    return session.scalar(
        select(ModelVersion).where(ModelVersion.status == "production").order_by(
            ModelVersion.promoted_at.desc(), ModelVersion.id.desc()
        )
    )


def promote(*, session: Session, version_id: int, by: str, reason: str,
            action: str = "model.promote") -> ModelVersion:
    """Make ``version_id`` the production model; the previous one is archived. Audited as
    ``action`` by ``by`` (API, dashboard, CLI and retrain jobs alike)."""
    version = get_version(session=session, version_id=version_id)
    if version.status == "production":
        raise Conflict(f"model version {version_id} is already in production")
    for current in session.scalars(
        select(ModelVersion).where(ModelVersion.status == "production").with_for_update()
    ):
        current.status = "archived"
    version.status = "production"
    version.promoted_at = utcnow()
    version.promoted_by = by
    version.promotion_reason = reason
    audit.record(session=session, actor=by, action=action, target=f"model:{version.id}",
                 details={"reason": reason})
    session.flush()
    return version


def rollback(*, session: Session, by: str, reason: str = "rollback") -> ModelVersion:
    """Put back the most recently promoted version that is no longer in production."""
    previous = session.scalar(
        select(ModelVersion)
        .where(ModelVersion.status == "archived", ModelVersion.promoted_at.is_not(None))
        .order_by(ModelVersion.promoted_at.desc(), ModelVersion.id.desc())
    )
    if previous is None:
        raise NotFound("no earlier production model to roll back to")
    return promote(session=session, version_id=previous.id, by=by, reason=reason,
                   action="model.rollback")


def ensure_default_models(*, session: Session, settings: Settings) -> ModelVersion:
    """Register the bundled checkpoints; make the default production if none is."""
    current = production(session=session)
    if settings.model_path is not None:
        wanted = register_checkpoint(session=session, settings=settings, json_path=settings.model_path)
    else:
        wanted = register_checkpoint(
            session=session, settings=settings,
            json_path=BUNDLED_MODEL_DIR / f"{DEFAULT_PRODUCTION}.json",
        )
        for name in DEFAULT_CANDIDATES:
            path = BUNDLED_MODEL_DIR / f"{name}.json"
            if path.exists():
                register_checkpoint(session=session, settings=settings, json_path=path)
    if current is None:
        current = promote(session=session, version_id=wanted.id, by="windwatch",
                          reason="bundled default at first start")
    session.flush()
    return current

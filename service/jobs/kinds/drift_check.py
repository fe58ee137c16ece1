"""``drift-check``: per sensor, PSI of the recent predictions' features against the production
model's training reference or the sensor's baseline (``service.jobs.drift``); when more than
``WINDWATCH_DRIFT_SHARE`` of the sensors with a verdict drift, a retrain is queued as a proposal
(``source="schedule"``, ``started_by="drift"``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.baselines.tables import READY, SensorBaseline
from service.errors import BadRequest
from service.jobs import drift
from service.jobs import service as jobs
from service.jobs.context import JobContext
from service.predictions.tables import INGEST, Prediction
from service.registry import service as registry
from service.turbines.tables import Sensor, Turbine


class Params(BaseModel):
    """Overrides of the drift settings for one run."""

    model_config = ConfigDict(extra="forbid")

    window: int | None = Field(default=None, ge=5, le=5000, description="recent predictions "
                               "per sensor (default WINDWATCH_DRIFT_WINDOW)")
    threshold: float | None = Field(default=None, gt=0, le=10)
    propose_retrain: bool = Field(default=True, description="queue a retrain on wide drift")
    turbines: list[str] | None = Field(default=None, min_length=1, max_length=10_000,
                                       description="only these turbines (default: the fleet)")


def _baseline_reference(session: Session, sensor_id: int
                        ) -> tuple[list[dict[str, float]], str] | None:
    """The samples of the newest version with a fitted class, pooled over its fitted speed
    classes (a turbine's recent snapshots span its speeds, so one class alone would read as
    drift), and the reference's name; None without a fitted baseline."""
    ready = (SensorBaseline.sensor_id == sensor_id) & (SensorBaseline.state == READY)
    version = session.scalar(select(func.max(SensorBaseline.version)).where(ready))
    if version is None:
        return None
    rows = session.scalars(select(SensorBaseline).where(ready, SensorBaseline.version == version)
                           .order_by(SensorBaseline.speed_bin)).all()
    name = f"baseline:v{version}" + (f" ({len(rows)} speed classes)" if len(rows) > 1 else "")
    return [dict(s) for r in rows for s in (r.samples or [])], name


def _check_sensor(session: Session, sensor_id: int, model_ref: dict | None, ref_name: str | None,
                  window: int, min_samples: int) -> dict:
    recent = [dict(f) for f in session.scalars(
        select(Prediction.features).where(Prediction.sensor_id == sensor_id,
                                          Prediction.source == INGEST,
                                          Prediction.features.is_not(None))
        .order_by(Prediction.recorded_at.desc(), Prediction.id.desc()).limit(window)) if f]
    reference, name = model_ref, ref_name
    if reference is None:
        found = _baseline_reference(session, sensor_id)
        if found is not None and found[0]:
            reference, name = drift.reference_from_samples(found[0]), found[1]
    n_ref = max((len(v) for v in reference.values()), default=0) if reference else 0
    out: dict[str, Any] = {"reference": name, "n_reference": n_ref, "n_recent": len(recent), "score": None,
           "features": {}, "top": [], "reason": None}
    if reference is None:
        return {**out, "status": "no_reference", "reason": "the production model records no "
                "feature reference and the sensor has no fitted baseline"}
    if len(recent) < min_samples or n_ref < min_samples:
        return {**out, "status": "insufficient_data", "reason": f"{len(recent)} recent and "
                f"{n_ref} reference snapshots; a verdict needs {min_samples} of each"}
    stats = drift.compare(reference, recent, min_samples)
    if stats["score"] is None:
        return {**out, **stats, "status": "insufficient_data",
                "reason": "no feature is shared by enough recent and reference snapshots"}
    return {**out, **stats, "status": "pending"}


def run(ctx: JobContext, params: Params) -> dict:
    """Check every sensor; propose a retrain on wide drift."""
    s = ctx.settings
    window, threshold = params.window or s.drift_window, params.threshold or s.drift_threshold
    with ctx.session_factory() as session:
        champion = registry.production(session=session)
        model_ref = (champion.training_data or {}).get("feature_reference") if champion else None
        ref_name = f"model:{champion.id}" if model_ref and champion else None
        stmt = select(Sensor.id, Sensor.name, Turbine.name).join(Turbine,
                                                                 Sensor.turbine_id == Turbine.id)
        if params.turbines:
            stmt = stmt.where(Turbine.name.in_(params.turbines))
        sensors = session.execute(stmt.order_by(Turbine.name, Sensor.name)).all()
    results = []
    for i, (sensor_id, sensor, turbine) in enumerate(sensors):
        ctx.progress(i / max(1, len(sensors)), f"{turbine}/{sensor}")
        with ctx.session_factory() as session:
            r = _check_sensor(session, sensor_id, model_ref or None, ref_name, window,
                              s.drift_min_samples)
        if r["status"] == "pending":
            r["status"] = "drifted" if r["score"] > threshold else "ok"
        results.append({"turbine": turbine, "sensor": sensor, **r})
    judged = [r for r in results if r["status"] in ("ok", "drifted")]
    drifted = [r for r in judged if r["status"] == "drifted"]
    share = len(drifted) / len(judged) if judged else None
    out = {"statistic": drift.STATISTIC, "threshold": threshold, "window": window,
           "share_limit": s.drift_share, "checked": len(judged), "drifted": len(drifted),
           "drifted_share": None if share is None else round(share, 4),
           "retrain_job_id": None, "retrain_reason": None, "sensors": results}
    if share is not None and share > s.drift_share and params.propose_retrain:
        out["retrain_job_id"], out["retrain_reason"] = _propose_retrain(ctx, len(drifted),
                                                                        len(judged))
    ctx.progress(1.0, f"{len(drifted)} of {len(judged)} sensors drift")
    return out


def _propose_retrain(ctx: JobContext, n_drifted: int, n_judged: int) -> tuple[int | None, str]:
    with ctx.session_factory() as session:
        active = jobs.active_of_kind(session=session, kind="retrain")
        if active is not None:
            return active.id, f"retrain job {active.id} is already {active.state}"
        try:
            job = jobs.start(session=session, kind="retrain", params={}, started_by="drift",
                             source="schedule")
            session.commit()
        except BadRequest as exc:
            return None, f"no retrain queued: {exc.detail}"
    ctx.log(f"{n_drifted} of {n_judged} sensors drift: retrain job {job.id} queued")
    return job.id, f"{n_drifted} of {n_judged} sensors drift beyond the threshold"

"""``refresh-baselines``: re-fit each sensor's healthy baseline from its recent snapshots that no
open or confirmed alarm covers.

A snapshot is covered when an alarm of its sensor that is still active (open or acknowledged)
started at or before it, or a closed alarm confirmed as a fault spanned it (first to last
raising snapshot). False alarms cover nothing: those snapshots were healthy after all. A sensor
whose current baseline is still learning from its first snapshots in every speed class (or after
a reset) is left to finish; one with fewer uncovered snapshots than a baseline is learnt from
keeps its baseline. Each refit is a new version (the old ones are kept), fitted with
``service.baselines``: the recent snapshots refit the speed classes they fill, the other fitted
classes are carried over unchanged.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import Session

from service.alarms.tables import CLOSED, Alarm
from service.baselines import fitting
from service.baselines import service as baselines
from service.baselines.tables import READY
from service.batches.tables import Batch
from service.jobs.context import JobContext, JobSkipped
from service.predictions.tables import INGEST, Prediction
from service.turbines.tables import Sensor, Turbine

REFRESHED = "refreshed"  # the baseline version's source


class Params(BaseModel):
    """Which sensors, and how many recent healthy snapshots each refit uses."""

    model_config = ConfigDict(extra="forbid")

    turbine: str | None = Field(default=None, max_length=64, description="only this turbine")
    snapshots: int | None = Field(default=None, ge=5, le=1000, description="recent uncovered "
                                  "snapshots per refit (default WINDWATCH_BASELINE_SNAPSHOTS)")


def _covered():
    """SQL condition: an open or confirmed alarm of the prediction's sensor covers it."""
    active = and_(Alarm.state != CLOSED, Alarm.first_recorded_at <= Prediction.recorded_at)
    confirmed = and_(Alarm.state == CLOSED, Alarm.outcome == "confirmed",
                     Alarm.first_recorded_at <= Prediction.recorded_at,
                     Alarm.last_recorded_at >= Prediction.recorded_at)
    return exists().where(Alarm.sensor_id == Prediction.sensor_id, or_(active, confirmed))


def healthy_samples(*, session: Session, sensor_id: int, n: int
                    ) -> list[tuple[dict[str, float], float | None]]:
    """(feature dict, given rpm) of the sensor's ``n`` most recent uncovered served snapshots,
    oldest first."""
    rows = session.execute(
        select(Prediction.features, Batch.rpm).join(Batch, Batch.id == Prediction.batch_id)
        .where(Prediction.sensor_id == sensor_id, Prediction.source == INGEST,
               Prediction.features.is_not(None), ~_covered())
        .order_by(Prediction.recorded_at.desc(), Prediction.id.desc()).limit(n)).all()
    return [(dict(f), rpm) for f, rpm in reversed(rows) if f]


def run(ctx: JobContext, params: Params) -> dict:
    """Refit every chosen sensor; the result lists refits and skips with their reasons."""
    n = params.snapshots or ctx.settings.baseline_snapshots
    with ctx.session_factory() as session:
        stmt = select(Sensor.id, Sensor.name, Turbine.name).join(Turbine,
                                                                 Sensor.turbine_id == Turbine.id)
        if params.turbine:
            stmt = stmt.where(Turbine.name == params.turbine)
        sensors = session.execute(stmt.order_by(Turbine.name, Sensor.name)).all()
    if not sensors:
        raise JobSkipped(f"no sensors{' of turbine ' + params.turbine if params.turbine else ''}"
                         " to refresh")
    refitted, skipped = [], []
    for i, (sensor_id, sensor, turbine) in enumerate(sensors):
        ctx.progress(i / len(sensors), f"{turbine}/{sensor}")
        where = {"turbine": turbine, "sensor": sensor}
        with ctx.session_factory() as session:
            rows = baselines.classes(session, sensor_id)  # the current version's classes
            fitted = [c for c in rows if c.state == READY]
            if not fitted:
                skipped.append({**where, "reason": "its baseline is still learning from its "
                                "first snapshots" if rows else "no baseline yet"})
                continue
            current = fitted[-1]
            samples = healthy_samples(session=session, sensor_id=sensor_id, n=n)
            if len(samples) < n:
                skipped.append({**where, "reason": f"{len(samples)} recent snapshots not covered "
                                f"by an open or confirmed alarm; a refit needs {n}"})
                continue
            try:
                row = fitting.fit_samples(
                    session=session, sensor_id=sensor_id, samples=[f for f, _ in samples],
                    rpms=[rpm for _, rpm in samples],
                    speed_bin_width=ctx.settings.baseline_speed_bin, source=REFRESHED,
                    threshold=current.threshold, keep_other_classes=True)
            except ValueError as exc:
                skipped.append({**where, "reason": f"cannot fit: {exc}"})
                continue
            session.commit()
            refitted.append({**where, "version": row.version, "previous": current.version,
                             "n": len(samples)})
        ctx.log(f"{turbine}/{sensor}: baseline v{row.version} from {len(samples)} snapshots")
    ctx.progress(1.0, f"{len(refitted)} refitted, {len(skipped)} skipped")
    return {"refitted": refitted, "skipped": skipped, "snapshots": n}

"""Baseline endpoints: a sensor's healthy reference, reset, and "mark this period as healthy"."""

from __future__ import annotations

from fastapi import APIRouter

from service.auth.deps import OperateDep
from service.baselines import fitting, service
from service.baselines.schemas import BaselineOut, BaselineVersionOut, FitIn
from service.baselines.tables import LEARNING, SensorBaseline
from service.deps import SessionDep, SettingsDep
from service.errors import NotFound
from service.turbines.tables import Sensor

router = APIRouter(tags=["baselines"])
PATH = "/turbines/{turbine_id}/sensors/{sensor}/baseline"


def version_out(row: SensorBaseline) -> BaselineVersionOut:
    """The summary of one baseline version."""
    rng = service.rpm_range(row)
    return BaselineVersionOut(
        version=row.version, rpm_range=None if rng is None else list(rng), state=row.state,
        source=row.source, n_seen=service.n_seen(row),
        n_required=row.n_required, created_at=row.created_at, fitted_at=row.fitted_at,
        reset_at=row.reset_at, period_start=row.period_start, period_end=row.period_end)


def baseline_out(*, session, turbine_name: str, sensor: Sensor, row: SensorBaseline) -> BaselineOut:
    """A speed class of a sensor's baseline (``row``) with every class of its current version
    and every version's summary."""
    head = version_out(row)
    current = service.classes(session, sensor.id)
    msg = "; ".join(
        f"{service.describe_class(c)}: " + (
            f"learning {service.n_seen(c)} of {c.n_required} snapshots" if c.state == LEARNING
            else f"ready from {service.n_seen(c)} snapshots ({c.source})")
        for c in service.shown_classes(current))
    return BaselineOut(
        **head.model_dump(), turbine_id=turbine_name, sensor=sensor.name,
        threshold=row.threshold, fs_hz=row.fs_hz, median=row.median, scale=row.scale,
        message=f"version {row.version}: {msg or 'no snapshot yet'}",
        classes=[version_out(c) for c in current],
        versions=[version_out(v) for v in service.history(session=session, sensor_id=sensor.id)])


@router.get(PATH, response_model=BaselineOut)
def get_baseline(turbine_id: str, sensor: str, session: SessionDep) -> BaselineOut:
    """The sensor's current baseline: its newest speed class (state: learning k of N, or ready;
    version, medians) and every class of the current version."""
    s, row = service.get(session=session, turbine_name=turbine_id, sensor_name=sensor)
    if row is None:
        raise NotFound(f"sensor {sensor!r} of turbine {turbine_id!r} has no baseline yet "
                       "(it starts learning with its first snapshot)")
    return baseline_out(session=session, turbine_name=turbine_id, sensor=s, row=row)


@router.post(PATH + "/reset", response_model=BaselineOut, status_code=201)
def reset_baseline(turbine_id: str, sensor: str, session: SessionDep,
                   settings: SettingsDep, principal: OperateDep) -> BaselineOut:
    """Start a new version that learns from the sensor's next snapshots (older ones are kept)."""
    s, row = service.reset(session=session, turbine_name=turbine_id, sensor_name=sensor,
                           n_required=settings.baseline_snapshots,
                           threshold=settings.anomaly_threshold, actor=principal.actor)
    out = baseline_out(session=session, turbine_name=turbine_id, sensor=s, row=row)
    session.commit()
    return out


@router.post(PATH + "/fit", response_model=BaselineOut, status_code=201)
def fit_baseline(turbine_id: str, sensor: str, body: FitIn, session: SessionDep,
                 settings: SettingsDep, principal: OperateDep) -> BaselineOut:
    """Mark [start, end) as healthy: fit a new, ready version from the stored features of the
    sensor's snapshots in that period. 422 naming the problem if the period is inverted or
    holds too few snapshots; nothing is written then."""
    s, row = fitting.fit_period(session=session, turbine_name=turbine_id, sensor_name=sensor,
                                start=body.start, end=body.end,
                                threshold=settings.anomaly_threshold, actor=principal.actor,
                                speed_bin_width=settings.baseline_speed_bin)
    out = baseline_out(session=session, turbine_name=turbine_id, sensor=s, row=row)
    session.commit()
    return out

"""Baseline endpoints: a sensor's healthy reference, reset, and "mark this period as healthy"."""

from __future__ import annotations

from fastapi import APIRouter

from service.auth.deps import OperateDep
from service.baselines import service
from service.baselines.schemas import BaselineOut, BaselineVersionOut, FitIn
from service.baselines.tables import LEARNING, SensorBaseline
from service.deps import SessionDep, SettingsDep
from service.errors import NotFound
from service.turbines.tables import Sensor

router = APIRouter(tags=["baselines"])
PATH = "/turbines/{turbine_id}/sensors/{sensor}/baseline"


def version_out(row: SensorBaseline) -> BaselineVersionOut:
    """The summary of one baseline version."""
    return BaselineVersionOut(
        version=row.version, state=row.state, source=row.source, n_seen=service.n_seen(row),
        n_required=row.n_required, created_at=row.created_at, fitted_at=row.fitted_at,
        reset_at=row.reset_at, period_start=row.period_start, period_end=row.period_end)


def baseline_out(*, session, turbine_name: str, sensor: Sensor, row: SensorBaseline) -> BaselineOut:
    """A sensor's current baseline with every version's summary."""
    head = version_out(row)
    msg = (f"learning: {head.n_seen} of {head.n_required} snapshots" if row.state == LEARNING
           else f"ready: version {row.version} from {head.n_seen} snapshots ({row.source})")
    return BaselineOut(
        **head.model_dump(), turbine_id=turbine_name, sensor=sensor.name,
        threshold=row.threshold, fs_hz=row.fs_hz, median=row.median, scale=row.scale,
        message=msg,
        versions=[version_out(v) for v in service.history(session=session, sensor_id=sensor.id)])


@router.get(PATH, response_model=BaselineOut)
def get_baseline(turbine_id: str, sensor: str, session: SessionDep) -> BaselineOut:
    """The sensor's current baseline: state (learning k of N, or ready), version, medians."""
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
    s, row = service.fit_period(session=session, turbine_name=turbine_id, sensor_name=sensor,
                                start=body.start, end=body.end,
                                threshold=settings.anomaly_threshold, actor=principal.actor)
    out = baseline_out(session=session, turbine_name=turbine_id, sensor=s, row=row)
    session.commit()
    return out

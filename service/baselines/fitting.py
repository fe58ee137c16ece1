"""Fitting a new baseline version from stored snapshots: a period the operator marks healthy,
or a refresh from recent healthy snapshots. One ready class per speed class the snapshots fill;
functions flush, never commit."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipelines.baselines import model
from service.auth import audit
from service.baselines.service import class_values, classes, current, sensor_of, store_fit, supersede
from service.baselines.tables import MARKED_PERIOD, READY, SensorBaseline
from service.batches.tables import Batch
from service.errors import BadRequest
from service.predictions.tables import INGEST, Prediction
from service.turbines.tables import Sensor


def fit_period(*, session: Session, turbine_name: str, sensor_name: str, start: datetime,
               end: datetime, threshold: float, actor: str, speed_bin_width: float
               ) -> tuple[Sensor, SensorBaseline]:
    """Mark [start, end) as healthy: a new ready version fitted from the stored features of
    the sensor's snapshots recorded in it, one class per speed class the period fills (the
    others learn from their next snapshots); the row returned is the class fitted from most.
    BadRequest (nothing written) for an empty or inverted period, or one with fewer snapshots
    than a baseline needs in every speed class. Audited as ``actor``."""
    if start.tzinfo is None or end.tzinfo is None:
        raise BadRequest("start and end need a time zone (ISO-8601 with Z or +hh:mm)")
    if start >= end:
        raise BadRequest(f"start ({start.isoformat()}) must be before end ({end.isoformat()})")
    sensor = sensor_of(session, turbine_name, sensor_name)
    rows = session.execute(
        select(Prediction.features, Batch.rpm).join(Batch, Batch.id == Prediction.batch_id)
        .where(Prediction.sensor_id == sensor.id, Prediction.recorded_at >= start,
               Prediction.recorded_at < end, Prediction.features.is_not(None),
               Prediction.source == INGEST)
        .order_by(Prediction.recorded_at, Prediction.id)
    ).all()
    rows = [r for r in rows if r[0]]
    if len(rows) < model.MIN_SAMPLES:
        raise BadRequest(
            f"the period {start.isoformat()} .. {end.isoformat()} holds {len(rows)} snapshots "
            f"of sensor {sensor_name!r} with features; a baseline needs at least "
            f"{model.MIN_SAMPLES}")
    try:
        row = fit_samples(session=session, sensor_id=sensor.id, samples=[r[0] for r in rows],
                          rpms=[r[1] for r in rows], speed_bin_width=speed_bin_width,
                          source=MARKED_PERIOD, threshold=threshold, start=start, end=end)
    except ValueError as exc:
        raise BadRequest(f"cannot fit a baseline from this period: {exc}") from exc
    audit.record(session=session, actor=actor, action="baseline.fit",
                 target=f"turbine:{turbine_name}/sensor:{sensor_name}",
                 details={"start": start.isoformat(), "end": end.isoformat()})
    return sensor, row


def _fit_classes(samples: list[dict[str, float]], rpms: list[float | None], width: float
                 ) -> dict[int, tuple[list[dict[str, float]], model.Baseline]]:
    """Speed class -> (its samples, their fit), for every class with enough samples that fit;
    ValueError naming the classes when none does."""
    groups: dict[int, list[dict[str, float]]] = {}
    for features, rpm in zip(samples, rpms, strict=True):
        groups.setdefault(model.speed_bin(rpm, width), []).append(features)
    fits, why = {}, []
    for k, group in sorted(groups.items()):
        name = model.speed_class_name(model.speed_bin_range(k, width))
        if len(group) < model.MIN_SAMPLES:
            why.append(f"{name}: {len(group)} snapshots")
            continue
        try:
            fits[k] = (group, model.fit(group))
        except ValueError as exc:
            why.append(f"{name}: {exc}")
    if not fits:
        raise ValueError(f"no speed class holds {model.MIN_SAMPLES} snapshots that can be "
                         f"fitted ({'; '.join(why)})")
    return fits


def fit_samples(*, session: Session, sensor_id: int, samples: list[dict[str, float]],
                rpms: list[float | None], speed_bin_width: float, source: str, threshold: float,
                start: datetime | None = None, end: datetime | None = None,
                keep_other_classes: bool = False) -> SensorBaseline:
    """A new ready version fitted from snapshots' feature dicts, grouped by the speed class of
    their given rpm (``source`` says how they were chosen: a marked period, or a refresh from
    recent healthy snapshots). A class with too few snapshots learns again from its next ones,
    or, with ``keep_other_classes``, keeps the current version's fitted statistics. Returns the
    class fitted from most snapshots; ValueError, nothing written, when no class can be fitted."""
    fits = _fit_classes(samples, rpms, speed_bin_width)
    head = current(session, sensor_id, lock=True)  # serialises concurrent resets and refits
    kept = [r for r in classes(session, sensor_id) if r.state == READY
            and r.speed_bin not in fits] if keep_other_classes else []
    version = supersede(session, sensor_id)
    for old in kept:
        session.add(SensorBaseline(
            sensor_id=sensor_id, version=version, speed_bin=old.speed_bin,
            rpm_min=old.rpm_min, rpm_max=old.rpm_max, state=READY, source=old.source,
            n_required=old.n_required, samples=old.samples, feature_names=old.feature_names,
            median=old.median, scale=old.scale, n_fitted=old.n_fitted, fs_hz=old.fs_hz,
            threshold=old.threshold, period_start=old.period_start, period_end=old.period_end,
            fitted_at=old.fitted_at))
    row = None
    # The class fitted from most snapshots is added last: the newest row is what a sensor's
    # baseline shows first.
    for k, (group, fitted) in sorted(fits.items(), key=lambda kv: len(kv[1][0])):
        row = SensorBaseline(sensor_id=sensor_id, version=version, n_required=len(group),
                             threshold=threshold, samples=group, state=READY, source=source,
                             period_start=start, period_end=end,
                             fs_hz=head.fs_hz if head else None,
                             **class_values(k, speed_bin_width))
        store_fit(row, fitted)
        session.add(row)
        session.flush()  # one row at a time: ids in this order
    assert row is not None
    return row

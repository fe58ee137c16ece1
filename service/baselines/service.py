"""Per-sensor baselines: learning from the first snapshots, scoring, reset, marking a period
healthy. Functions flush, never commit (routers and the ingest transaction do).

The update at ingest is O(features): the current version's row is locked, the snapshot's feature
dict appended while learning (and the baseline fitted when ``n_required`` are in), or the
snapshot scored against the fitted medians and scales.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pipelines.baselines import model
from service.auth import audit
from service.baselines.tables import FIRST_N, LEARNING, MARKED_PERIOD, READY, SensorBaseline
from service.db import utcnow
from service.errors import BadRequest, NotFound
from service.predictions.tables import INGEST, Prediction
from service.turbines import service as turbines
from service.turbines.tables import Sensor


@dataclass(frozen=True)
class DetectionConfig:
    """How new baselines are made: snapshots to learn from, and the anomaly threshold."""

    n_required: int = 20
    threshold: float = model.DEFAULT_THRESHOLD


@dataclass(frozen=True)
class Detection:
    """What the detection stage says about one snapshot."""

    state: str
    version: int
    n_seen: int
    n_required: int
    threshold: float
    score: float | None = None

    @property
    def is_anomalous(self) -> bool | None:
        """None while learning (no score), else score > threshold."""
        return None if self.score is None else self.score > self.threshold


def current(session: Session, sensor_id: int, lock: bool = False) -> SensorBaseline | None:
    """The sensor's newest baseline version (locked for update if ``lock``), or None."""
    stmt = (select(SensorBaseline).where(SensorBaseline.sensor_id == sensor_id)
            .order_by(SensorBaseline.version.desc()).limit(1))
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return session.scalar(stmt)


def n_seen(row: SensorBaseline) -> int:
    """Snapshots collected so far (learning) or fitted from (ready)."""
    return len(row.samples or []) if row.state == LEARNING else (row.n_fitted or 0)


def as_baseline(row: SensorBaseline) -> model.Baseline:
    """The fitted statistics of a ready row as a ``pipelines.baselines.model.Baseline``."""
    names = tuple(row.feature_names or ())
    med, sc = row.median or {}, row.scale or {}
    return model.Baseline(names, tuple(med[n] for n in names), tuple(sc[n] for n in names),
                          row.n_fitted or 0, row.fs_hz)


def _store_fit(row: SensorBaseline, fitted: model.Baseline) -> None:
    median, scale = fitted.as_dicts()
    row.state, row.feature_names, row.median, row.scale = READY, list(fitted.names), median, scale
    row.n_fitted, row.fitted_at = fitted.n, utcnow()
    row.fs_hz = row.fs_hz if fitted.fs_hz is None else fitted.fs_hz


def _new_version(session: Session, sensor_id: int, previous: SensorBaseline | None,
                 n_required: int, threshold: float, **values) -> SensorBaseline:
    if previous is not None and previous.reset_at is None:
        previous.reset_at = utcnow()
    row = SensorBaseline(sensor_id=sensor_id, version=(previous.version + 1) if previous else 1,
                         n_required=n_required, threshold=threshold, samples=[], **values)
    session.add(row)
    return row


def _first_version(session: Session, sensor_id: int, n_required: int, threshold: float
                   ) -> SensorBaseline:
    """Version 1 of a sensor's baseline; a concurrent ingest creating it first wins."""
    try:
        with session.begin_nested():
            row = _new_version(session, sensor_id, None, n_required, threshold)
            session.flush()
        return row
    except IntegrityError:
        found = current(session, sensor_id, lock=True)
        assert found is not None
        return found


def observe(*, session: Session, sensor_id: int, features: dict[str, float], fs_hz: float,
            config: DetectionConfig) -> Detection:
    """Learn from or score one snapshot's features (in the caller's transaction); non-finite
    features are left out."""
    features = model.finite(features)
    row = current(session, sensor_id)  # no lock to score against a ready baseline
    if row is None or row.state == LEARNING:
        row = current(session, sensor_id, lock=True)
        if row is None:
            row = _first_version(session, sensor_id, config.n_required, config.threshold)
    if row.state == LEARNING:
        row.samples = [*row.samples, dict(features)]  # a new list: JSON columns track assignment
        if row.fs_hz is None:
            row.fs_hz = fs_hz
        n_seen = len(row.samples)
        if n_seen >= row.n_required:
            # No feature finite in most samples: keep learning rather than fail the ingest.
            with contextlib.suppress(ValueError):
                _store_fit(row, model.fit(row.samples, fs_hz=row.fs_hz))
        session.flush()
        return Detection(LEARNING, row.version, n_seen, row.n_required, row.threshold)
    value = model.score(as_baseline(row), features)
    return Detection(READY, row.version, row.n_fitted or 0, row.n_required, row.threshold,
                     None if value != value else value)


def _sensor(session: Session, turbine_name: str, sensor_name: str) -> Sensor:
    turbine = turbines.get_turbine(session=session, name=turbine_name)
    sensor = next((s for s in turbine.sensors if s.name == sensor_name), None)
    if sensor is None:
        raise NotFound(f"turbine {turbine_name!r} has no sensor {sensor_name!r}")
    return sensor


def get(*, session: Session, turbine_name: str, sensor_name: str
        ) -> tuple[Sensor, SensorBaseline | None]:
    """The sensor and its current baseline (None before its first snapshot)."""
    sensor = _sensor(session, turbine_name, sensor_name)
    return sensor, current(session, sensor.id)


def history(*, session: Session, sensor_id: int) -> list[SensorBaseline]:
    """Every version of a sensor's baseline, newest first."""
    return list(session.scalars(select(SensorBaseline).where(SensorBaseline.sensor_id == sensor_id)
                                .order_by(SensorBaseline.version.desc())))


def reset(*, session: Session, turbine_name: str, sensor_name: str, n_required: int,
          threshold: float, actor: str) -> tuple[Sensor, SensorBaseline]:
    """Start a new learning version from the next snapshots; older versions are kept.
    Audited as ``actor``."""
    sensor = _sensor(session, turbine_name, sensor_name)
    row = _new_version(session, sensor.id, current(session, sensor.id, lock=True), n_required,
                       threshold, state=LEARNING, source=FIRST_N)
    audit.record(session=session, actor=actor, action="baseline.reset",
                 target=f"turbine:{turbine_name}/sensor:{sensor_name}")
    session.flush()
    return sensor, row


def fit_period(*, session: Session, turbine_name: str, sensor_name: str, start: datetime,
               end: datetime, threshold: float, actor: str) -> tuple[Sensor, SensorBaseline]:
    """Mark [start, end) as healthy: a new ready version fitted from the stored features of
    the sensor's snapshots recorded in it. BadRequest (nothing written) for an empty or
    inverted period, or one with fewer snapshots than a baseline needs. Audited as ``actor``."""
    if start.tzinfo is None or end.tzinfo is None:
        raise BadRequest("start and end need a time zone (ISO-8601 with Z or +hh:mm)")
    if start >= end:
        raise BadRequest(f"start ({start.isoformat()}) must be before end ({end.isoformat()})")
    sensor = _sensor(session, turbine_name, sensor_name)
    rows = session.execute(
        select(Prediction.features, Prediction.recorded_at)
        .where(Prediction.sensor_id == sensor.id, Prediction.recorded_at >= start,
               Prediction.recorded_at < end, Prediction.features.is_not(None),
               Prediction.source == INGEST)
        .order_by(Prediction.recorded_at, Prediction.id)
    ).all()
    samples = [r[0] for r in rows if r[0]]
    if len(samples) < model.MIN_SAMPLES:
        raise BadRequest(
            f"the period {start.isoformat()} .. {end.isoformat()} holds {len(samples)} snapshots "
            f"of sensor {sensor_name!r} with features; a baseline needs at least "
            f"{model.MIN_SAMPLES}")
    try:
        row = fit_samples(session=session, sensor_id=sensor.id, samples=samples,
                          source=MARKED_PERIOD, threshold=threshold, start=start, end=end)
    except ValueError as exc:
        raise BadRequest(f"cannot fit a baseline from this period: {exc}") from exc
    audit.record(session=session, actor=actor, action="baseline.fit",
                 target=f"turbine:{turbine_name}/sensor:{sensor_name}",
                 details={"start": start.isoformat(), "end": end.isoformat()})
    return sensor, row


def fit_samples(*, session: Session, sensor_id: int, samples: list[dict[str, float]],
                source: str, threshold: float, start: datetime | None = None,
                end: datetime | None = None) -> SensorBaseline:
    """A new ready version fitted from snapshots' feature dicts (``source`` says how they were
    chosen: a marked period, or a refresh from recent healthy snapshots); ValueError, nothing
    written, when they cannot be fitted."""
    fitted = model.fit(samples)
    previous = current(session, sensor_id, lock=True)
    row = _new_version(session, sensor_id, previous, len(samples), threshold,
                       state=READY, source=source, period_start=start, period_end=end,
                       fs_hz=previous.fs_hz if previous else None)
    row.samples = samples
    _store_fit(row, fitted)
    session.flush()
    return row

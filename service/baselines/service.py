"""Per-sensor baselines, one per speed class: learning from each class's first snapshots,
scoring, reset (fitting from stored snapshots is ``service.baselines.fitting``). Functions
flush, never commit (routers and the ingest transaction do).

The update at ingest is O(features): the snapshot's speed class row is locked, its feature dict
appended while learning (and the class fitted when ``n_required`` are in), or the snapshot
scored against the class's fitted medians and scales.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pipelines.baselines import model
from service.auth import audit
from service.baselines.tables import FIRST_N, LEARNING, READY, SensorBaseline
from service.db import utcnow
from service.errors import NotFound
from service.turbines import service as turbines
from service.turbines.tables import Sensor


@dataclass(frozen=True)
class DetectionConfig:
    """How new baselines are made: snapshots to learn from, the anomaly threshold, and the
    relative width of a speed class (0: one baseline for every speed)."""

    n_required: int = 20
    threshold: float = model.DEFAULT_THRESHOLD
    speed_bin_width: float = model.DEFAULT_SPEED_BIN


@dataclass(frozen=True)
class Detection:
    """What the detection stage says about one snapshot."""

    state: str
    version: int
    n_seen: int
    n_required: int
    threshold: float
    score: float | None = None
    rpm_range: tuple[float, float] | None = None  # the speed class; None: any speed

    @property
    def is_anomalous(self) -> bool | None:
        """None while learning (no score), else score > threshold."""
        return None if self.score is None else self.score > self.threshold


def current(session: Session, sensor_id: int, lock: bool = False) -> SensorBaseline | None:
    """The sensor's newest baseline row (of its current version; locked for update if
    ``lock``), or None before its first snapshot."""
    stmt = (select(SensorBaseline).where(SensorBaseline.sensor_id == sensor_id)
            .order_by(SensorBaseline.version.desc(), SensorBaseline.id.desc()).limit(1))
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return session.scalar(stmt)


def current_version(session: Session, sensor_id: int) -> int | None:
    """The sensor's current baseline version (the newest), or None."""
    return session.scalar(select(func.max(SensorBaseline.version))
                          .where(SensorBaseline.sensor_id == sensor_id))


def class_row(session: Session, sensor_id: int, version: int | None, speed_bin: int,
              lock: bool = False) -> SensorBaseline | None:
    """One speed class of ``version`` (None: the sensor's current version, found in the same
    query), locked for update if ``lock``; or None."""
    if version is None:
        newest = (select(func.max(SensorBaseline.version))
                  .where(SensorBaseline.sensor_id == sensor_id).scalar_subquery())
    stmt = select(SensorBaseline).where(SensorBaseline.sensor_id == sensor_id,
                                        SensorBaseline.speed_bin == speed_bin,
                                        SensorBaseline.version == (
                                            newest if version is None else version))
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return session.scalar(stmt)


def classes(session: Session, sensor_id: int) -> list[SensorBaseline]:
    """Every speed class of the sensor's current version, slowest first ("any speed" first)."""
    version = current_version(session, sensor_id)
    if version is None:
        return []
    return list(session.scalars(select(SensorBaseline)
                                .where(SensorBaseline.sensor_id == sensor_id,
                                       SensorBaseline.version == version)
                                .order_by(SensorBaseline.speed_bin)))


def shown_classes(rows: list[SensorBaseline]) -> list[SensorBaseline]:
    """The classes worth showing: a reset creates its version's "any speed" class at once, so
    that class is hidden while it is empty, unless it is the only one."""
    shown = [r for r in rows if r.speed_bin != model.ANY_SPEED or n_seen(r)]
    return shown or rows[:1]


def n_seen(row: SensorBaseline) -> int:
    """Snapshots collected so far (learning) or fitted from (ready)."""
    return len(row.samples or []) if row.state == LEARNING else (row.n_fitted or 0)


def rpm_range(row: SensorBaseline) -> tuple[float, float] | None:
    """The speed class's [low, high) rpm, None for the "any speed" class."""
    if row.rpm_min is None or row.rpm_max is None:
        return None
    return row.rpm_min, row.rpm_max


def describe_class(row: SensorBaseline) -> str:
    """A class in words: "1156-1272 rpm" or "any speed"."""
    return model.speed_class_name(rpm_range(row))


def as_baseline(row: SensorBaseline) -> model.Baseline:
    """The fitted statistics of a ready row as a ``pipelines.baselines.model.Baseline``."""
    names = tuple(row.feature_names or ())
    med, sc = row.median or {}, row.scale or {}
    return model.Baseline(names, tuple(med[n] for n in names), tuple(sc[n] for n in names),
                          row.n_fitted or 0, row.fs_hz)


def store_fit(row: SensorBaseline, fitted: model.Baseline) -> None:
    """Write a fit into a row and mark it ready."""
    median, scale = fitted.as_dicts()
    row.state, row.feature_names, row.median, row.scale = READY, list(fitted.names), median, scale
    row.n_fitted, row.fitted_at = fitted.n, utcnow()
    row.fs_hz = row.fs_hz if fitted.fs_hz is None else fitted.fs_hz


def class_values(speed_bin: int, width: float) -> dict:
    """The columns naming a speed class."""
    rng = model.speed_bin_range(speed_bin, width)
    return {"speed_bin": speed_bin, "rpm_min": None if rng is None else rng[0],
            "rpm_max": None if rng is None else rng[1]}


def supersede(session: Session, sensor_id: int) -> int:
    """Mark every row of the sensor's current version reset; the next version's number."""
    previous = current_version(session, sensor_id)
    if previous is not None:
        session.execute(update(SensorBaseline)
                        .where(SensorBaseline.sensor_id == sensor_id,
                               SensorBaseline.version == previous,
                               SensorBaseline.reset_at.is_(None))
                        .values(reset_at=utcnow()))
    return (previous or 0) + 1


def _new_class(session: Session, sensor_id: int, version: int, speed_bin: int,
               config: DetectionConfig) -> SensorBaseline:
    """A learning speed class of a version; a concurrent ingest creating it first wins."""
    try:
        with session.begin_nested():
            row = SensorBaseline(sensor_id=sensor_id, version=version, n_required=config.n_required,
                                 threshold=config.threshold, samples=[],
                                 **class_values(speed_bin, config.speed_bin_width))
            session.add(row)
            session.flush()
        return row
    except IntegrityError:
        found = class_row(session, sensor_id, version, speed_bin, lock=True)
        assert found is not None
        return found


def observe(*, session: Session, sensor_id: int, features: dict[str, float], fs_hz: float,
            config: DetectionConfig, rpm: float | None = None) -> Detection:
    """Learn from or score one snapshot's features (in the caller's transaction) in the speed
    class of its given ``rpm`` (the "any speed" class without one); non-finite features are
    left out."""
    features = model.finite(features)
    speed_bin = model.speed_bin(rpm, config.speed_bin_width)
    row = class_row(session, sensor_id, None, speed_bin)  # no lock to score a ready class
    if row is None or row.state == LEARNING:
        row = class_row(session, sensor_id, None, speed_bin, lock=True)
        if row is None:
            version = current_version(session, sensor_id) or 1
            row = _new_class(session, sensor_id, version, speed_bin, config)
    if row.state == LEARNING:
        row.samples = [*row.samples, dict(features)]  # a new list: JSON columns track assignment
        if row.fs_hz is None:
            row.fs_hz = fs_hz
        n_seen = len(row.samples)
        if n_seen >= row.n_required:
            # No feature finite in most samples: keep learning rather than fail the ingest.
            with contextlib.suppress(ValueError):
                store_fit(row, model.fit(row.samples, fs_hz=row.fs_hz))
        session.flush()
        return Detection(LEARNING, row.version, n_seen, row.n_required, row.threshold,
                         rpm_range=rpm_range(row))
    value = model.score(as_baseline(row), features)
    return Detection(READY, row.version, row.n_fitted or 0, row.n_required, row.threshold,
                     None if value != value else value, rpm_range=rpm_range(row))


def sensor_of(session: Session, turbine_name: str, sensor_name: str) -> Sensor:
    """The turbine's sensor of that name, or NotFound."""
    turbine = turbines.get_turbine(session=session, name=turbine_name)
    sensor = next((s for s in turbine.sensors if s.name == sensor_name), None)
    if sensor is None:
        raise NotFound(f"turbine {turbine_name!r} has no sensor {sensor_name!r}")
    return sensor


def get(*, session: Session, turbine_name: str, sensor_name: str
        ) -> tuple[Sensor, SensorBaseline | None]:
    """The sensor and its current baseline (None before its first snapshot)."""
    sensor = sensor_of(session, turbine_name, sensor_name)
    return sensor, current(session, sensor.id)


def history(*, session: Session, sensor_id: int) -> list[SensorBaseline]:
    """Every version of a sensor's baseline (each speed class a row), newest first."""
    return list(session.scalars(select(SensorBaseline).where(SensorBaseline.sensor_id == sensor_id)
                                .order_by(SensorBaseline.version.desc(),
                                          SensorBaseline.speed_bin)))


def reset(*, session: Session, turbine_name: str, sensor_name: str, n_required: int,
          threshold: float, actor: str) -> tuple[Sensor, SensorBaseline]:
    """Start a new learning version: every speed class learns again from its next snapshots
    (the "any speed" class is created at once, the others with their first snapshot); older
    versions are kept. Audited as ``actor``."""
    sensor = sensor_of(session, turbine_name, sensor_name)
    current(session, sensor.id, lock=True)  # serialises concurrent resets and refits
    row = SensorBaseline(sensor_id=sensor.id, version=supersede(session, sensor.id),
                         n_required=n_required, threshold=threshold, samples=[], state=LEARNING,
                         source=FIRST_N)
    session.add(row)
    audit.record(session=session, actor=actor, action="baseline.reset",
                 target=f"turbine:{turbine_name}/sensor:{sensor_name}")
    session.flush()
    return sensor, row

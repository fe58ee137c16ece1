"""Per-sensor healthy baselines, versioned: the newest version of a sensor is its current one."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from pipelines.baselines.model import ANY_SPEED
from service.db import Base, JSONType, utcnow

LEARNING, READY = "learning", "ready"
STATES = (LEARNING, READY)
FIRST_N, MARKED_PERIOD = "first_n", "marked_period"


class SensorBaseline(Base):
    """One speed class of one version of a sensor's healthy reference.

    ``learning``: ``samples`` collects the feature dicts of the sensor's snapshots until
    ``n_required`` are in, then it is fitted (``first_n``). A period marked healthy fits a new,
    ``ready`` version at once (``marked_period``). A reset starts a new ``learning`` version; the
    older versions are kept (``reset_at`` says when one was superseded).

    A version holds one row per speed class (``speed_bin``, its ``rpm_min``..``rpm_max``; ``-1``:
    snapshots without a given rpm, or every snapshot when speed classes are off). Each class
    learns from its own first snapshots, created when the first snapshot of that speed arrives."""

    __tablename__ = "sensor_baselines"

    id: Mapped[int] = mapped_column(primary_key=True)
    sensor_id: Mapped[int] = mapped_column(ForeignKey("sensors.id", ondelete="CASCADE"))
    version: Mapped[int]
    speed_bin: Mapped[int] = mapped_column(default=ANY_SPEED, server_default=str(ANY_SPEED))
    rpm_min: Mapped[float | None]
    rpm_max: Mapped[float | None]
    state: Mapped[str] = mapped_column(String(16), default=LEARNING)
    source: Mapped[str] = mapped_column(String(16), default=FIRST_N)
    n_required: Mapped[int]
    samples: Mapped[list[dict[str, float]]] = mapped_column(JSONType, default=list)
    feature_names: Mapped[list[str] | None] = mapped_column(JSONType)
    median: Mapped[dict[str, float] | None] = mapped_column(JSONType)
    scale: Mapped[dict[str, float] | None] = mapped_column(JSONType)
    n_fitted: Mapped[int | None]
    fs_hz: Mapped[float | None]
    threshold: Mapped[float]
    period_start: Mapped[datetime | None]
    period_end: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    fitted_at: Mapped[datetime | None]
    reset_at: Mapped[datetime | None]

    __table_args__ = (UniqueConstraint("sensor_id", "version", "speed_bin"),)

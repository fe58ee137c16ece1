"""Classifier verdicts, each tied to the model version that made it.

A batch has exactly one served verdict (``source="ingest"``: the one the ingest answered with,
which alarms, baselines and every page read), plus at most one re-score per other model version
(``source="backfill"``), so re-scoring history never overwrites what was served."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base, BigId, JSONType, utcnow

INGEST, BACKFILL = "ingest", "backfill"
SOURCES = (INGEST, BACKFILL)
_SERVED = text("source = 'ingest'")


class Prediction(Base):
    __tablename__ = "predictions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    batch_id: Mapped[int] = mapped_column(BigId, ForeignKey("batches.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(16), default=INGEST, server_default=INGEST)
    # turbine/sensor/recorded_at are copied from the batch so that "a turbine's predictions in
    # a time range" is a single index range scan without a join.
    turbine_id: Mapped[int] = mapped_column(ForeignKey("turbines.id", ondelete="CASCADE"))
    sensor_id: Mapped[int] = mapped_column(ForeignKey("sensors.id", ondelete="CASCADE"))
    recorded_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    model_version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"), index=True)
    label: Mapped[str] = mapped_column(String(32))
    score: Mapped[float]  # probability of "any fault" (1 - p(normal))
    probabilities: Mapped[dict[str, float]] = mapped_column(JSONType)
    per_channel: Mapped[dict[str, dict[str, float]]] = mapped_column(JSONType)
    n_windows: Mapped[int]
    # Detection against the sensor's healthy baseline: the snapshot's scale-free features (kept
    # so that a period marked healthy can be fitted without re-reading raw files), the anomaly
    # score (NULL while the baseline is learnt) and the baseline version, state and speed
    # class (its rpm range; NULL: one baseline for every speed) it met.
    features: Mapped[dict[str, float] | None] = mapped_column(JSONType)
    anomaly_score: Mapped[float | None]
    anomaly_threshold: Mapped[float | None]
    baseline_version: Mapped[int | None]
    baseline_state: Mapped[str | None] = mapped_column(String(16))
    baseline_n_seen: Mapped[int | None]
    baseline_n_required: Mapped[int | None]
    baseline_rpm_min: Mapped[float | None]
    baseline_rpm_max: Mapped[float | None]
    # Defect-order models: what the verdict rests on (geometry, speed, band, family
    # prominences, fault family, warnings); None for spectrum models.
    diagnosis: Mapped[dict | None] = mapped_column(JSONType, nullable=True)

    __table_args__ = (
        UniqueConstraint("batch_id", "model_version_id"),
        # One served verdict per batch: a partial unique index (both dialects support them).
        Index("uq_predictions_served_batch", "batch_id", unique=True, sqlite_where=_SERVED,
              postgresql_where=_SERVED),
        Index("ix_predictions_turbine_recorded", "turbine_id", "recorded_at", "id"),
        Index("ix_predictions_sensor_recorded", "sensor_id", "recorded_at"),
    )

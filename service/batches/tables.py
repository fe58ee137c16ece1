"""Stored snapshots (raw data pointer + metadata) and their condition indicators."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.db import Base, BigId, JSONType, utcnow


class Batch(Base):
    """One uploaded snapshot of one sensor: C channels x N samples at ``sample_rate_hz``."""

    __tablename__ = "batches"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    turbine_id: Mapped[int] = mapped_column(ForeignKey("turbines.id", ondelete="CASCADE"))
    sensor_id: Mapped[int] = mapped_column(ForeignKey("sensors.id", ondelete="CASCADE"))
    recorded_at: Mapped[datetime]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    sample_rate_hz: Mapped[float]
    n_channels: Mapped[int]
    n_samples: Mapped[int]
    channel_names: Mapped[list[str]] = mapped_column(JSONType)
    rpm: Mapped[float | None]
    unit: Mapped[str] = mapped_column(String(8))
    content_type: Mapped[str] = mapped_column(String(64))
    raw_uri: Mapped[str] = mapped_column(String(512))  # relative to the data root
    raw_sha256: Mapped[str] = mapped_column(String(64))
    raw_bytes: Mapped[int]
    body_sha256: Mapped[str] = mapped_column(String(64))  # detects key reuse with another body
    idempotency_key: Mapped[str | None] = mapped_column(String(128))
    # Ground truth when known (imported recordings; later: alarm feedback).
    label: Mapped[str | None] = mapped_column(String(32))
    label_source: Mapped[str | None] = mapped_column(String(64))

    indicators: Mapped[list[Indicator]] = relationship(
        back_populates="batch", order_by="Indicator.id", cascade="all, delete-orphan"
    )

    __table_args__ = (
        UniqueConstraint("turbine_id", "idempotency_key"),
        Index("ix_batches_turbine_recorded", "turbine_id", "recorded_at"),
        Index("ix_batches_sensor_recorded", "sensor_id", "recorded_at"),
    )


class Indicator(Base):
    """Condition indicators of one channel of a batch, in SI units (velocity in mm/s)."""

    __tablename__ = "indicators"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    batch_id: Mapped[int] = mapped_column(BigId, ForeignKey("batches.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(64))
    rms_accel_m_s2: Mapped[float]
    rms_velocity_mm_s: Mapped[float]
    peak_accel_m_s2: Mapped[float]
    crest_factor: Mapped[float]
    kurtosis: Mapped[float]

    batch: Mapped[Batch] = relationship(back_populates="indicators")

    __table_args__ = (UniqueConstraint("batch_id", "channel"),)

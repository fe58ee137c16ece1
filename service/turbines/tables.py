"""Turbines and their sensors."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.db import Base, BigId, utcnow


class Turbine(Base):
    """A wind turbine, addressed in URLs by ``name`` (e.g. ``WT-001``)."""

    __tablename__ = "turbines"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    site: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Denormalised pointer to the newest prediction (by recorded_at), kept in the ingest
    # transaction, so that the fleet view is one indexed read per page of turbines rather than
    # a "latest row per group" query over hundreds of millions of predictions.
    latest_prediction_id: Mapped[int | None] = mapped_column(BigId, index=True)
    last_recorded_at: Mapped[datetime | None]
    last_received_at: Mapped[datetime | None]

    sensors: Mapped[list[Sensor]] = relationship(back_populates="turbine", order_by="Sensor.name")

    __table_args__ = (Index("ix_turbines_site_name", "site", "name"),)


class Sensor(Base):
    """One accelerometer position on a turbine (main bearing, gearbox HSS, generator DE...)."""

    __tablename__ = "sensors"

    id: Mapped[int] = mapped_column(primary_key=True)
    turbine_id: Mapped[int] = mapped_column(ForeignKey("turbines.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    component: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    turbine: Mapped[Turbine] = relationship(back_populates="sensors")

    __table_args__ = (UniqueConstraint("turbine_id", "name"),)

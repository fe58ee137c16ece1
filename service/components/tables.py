"""The drivetrain geometry under one sensor: its bearing, gears, and speed relations."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base, JSONType, utcnow


class SensorGeometry(Base):
    """Kinematic configuration of the shaft a sensor watches (at most one row per sensor).

    The bearing is stored resolved (element count, diameters in mm, contact angle) even when it
    came from the catalogue (``bearing_designation``), so a later catalogue edit never changes
    the frequencies of an existing configuration silently.
    """

    __tablename__ = "sensor_geometries"

    id: Mapped[int] = mapped_column(primary_key=True)
    sensor_id: Mapped[int] = mapped_column(
        ForeignKey("sensors.id", ondelete="CASCADE"), unique=True
    )
    bearing_designation: Mapped[str | None] = mapped_column(String(64))
    n_elements: Mapped[int]
    element_diameter_mm: Mapped[float]
    pitch_diameter_mm: Mapped[float]
    contact_angle_deg: Mapped[float]
    # [{"name": "hss_pinion", "teeth": 23, "speed_ratio": 1.0}, ...]; mesh = teeth x ratio x shaft
    gears: Mapped[list[dict]] = mapped_column(JSONType, default=list)
    # {"sun_teeth", "planet_teeth", "ring_teeth", "n_planets", "carrier_speed_ratio"} or null
    planetary: Mapped[dict | None] = mapped_column(JSONType)
    # Speed of the watched shaft / the speed a batch reports as ``rpm`` (1 when they are equal).
    shaft_speed_ratio: Mapped[float] = mapped_column(default=1.0)
    # Search range (rpm of the watched shaft) for estimating speed when a batch has no rpm.
    rpm_min: Mapped[float | None]
    rpm_max: Mapped[float | None]
    notes: Mapped[str | None] = mapped_column(String(512))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(128))

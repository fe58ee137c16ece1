"""Alarms, the batches that raised them, and the audit trail of every transition."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base, BigId, JSONType, utcnow

# States and the transitions a person may make (the system only opens and escalates).
OPEN, ACKNOWLEDGED, CLOSED = "open", "acknowledged", "closed"
STATES = (OPEN, ACKNOWLEDGED, CLOSED)
KINDS = ("fault", "zone", "anomaly")
OUTCOMES = ("confirmed", "false_alarm")


class Alarm(Base):
    """One alarm of a turbine's sensor: a fault class (``kind="fault"``, ``code`` = class), an
    indicator zone (``kind="zone"``, ``code`` = indicator name) or a departure from the sensor's
    healthy baseline (``kind="anomaly"``, ``code="baseline"``). Repeats update it in place."""

    __tablename__ = "alarms"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    turbine_id: Mapped[int] = mapped_column(ForeignKey("turbines.id", ondelete="CASCADE"))
    sensor_id: Mapped[int] = mapped_column(ForeignKey("sensors.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    code: Mapped[str] = mapped_column(String(32))
    component: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16), default=OPEN)
    severity: Mapped[str] = mapped_column(String(16))
    # True while not closed, NULL once closed. With the unique constraint below this allows one
    # active alarm per (turbine, sensor, kind, code) on both dialects (NULLs never collide), so
    # concurrent ingests cannot open a duplicate: the loser's insert fails and it updates instead.
    active: Mapped[bool | None]
    threshold: Mapped[float]  # class threshold, the zone's B/C limit, or the anomaly threshold
    peak_probability: Mapped[float | None]
    peak_value: Mapped[float | None]  # indicator value (zone alarms) or anomaly score
    zone: Mapped[str | None] = mapped_column(String(4))  # worst zone seen: "C" or "D"
    count: Mapped[int] = mapped_column(default=1)  # snapshots that raised or repeated it
    details: Mapped[dict] = mapped_column(JSONType, default=dict)
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    first_recorded_at: Mapped[datetime]  # data time of the earliest raising snapshot
    last_recorded_at: Mapped[datetime]  # data time of the newest one
    latest_prediction_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("predictions.id", ondelete="SET NULL")
    )
    latest_batch_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("batches.id", ondelete="SET NULL")
    )
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[str | None] = mapped_column(String(128))
    ack_comment: Mapped[str | None] = mapped_column(String(1024))
    closed_at: Mapped[datetime | None]
    closed_by: Mapped[str | None] = mapped_column(String(128))
    outcome: Mapped[str | None] = mapped_column(String(16))
    fault_type: Mapped[str | None] = mapped_column(String(32))
    close_comment: Mapped[str | None] = mapped_column(String(1024))

    __table_args__ = (
        UniqueConstraint("turbine_id", "sensor_id", "kind", "code", "active"),
        Index("ix_alarms_state_opened", "state", "opened_at"),
        Index("ix_alarms_turbine_opened", "turbine_id", "opened_at"),
    )


class AlarmBatch(Base):
    """A batch that raised (or repeated) an alarm: closing the alarm labels these batches."""

    __tablename__ = "alarm_batches"

    alarm_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("alarms.id", ondelete="CASCADE"), primary_key=True
    )
    batch_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("batches.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class AlarmEvent(Base):
    """One entry of an alarm's audit trail: opened, escalated, acknowledged, closed."""

    __tablename__ = "alarm_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    alarm_id: Mapped[int] = mapped_column(BigId, ForeignKey("alarms.id", ondelete="CASCADE"),
                                          index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(16))
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    details: Mapped[dict] = mapped_column(JSONType, default=dict)

"""Alarm responses and the acknowledge / close requests."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, model_validator

State = Literal["open", "acknowledged", "closed"]
Kind = Literal["fault", "zone", "anomaly"]
Severity = Literal["warning", "minor", "major", "critical"]


class AlarmEventOut(BaseModel):
    at: datetime
    actor: str
    action: str
    from_state: State | None
    to_state: State
    details: dict


class AlarmOut(BaseModel):
    id: int
    turbine_id: str
    sensor: str
    component: str
    kind: Kind
    code: str  # the fault class (kind "fault") or the indicator name (kind "zone")
    state: State
    severity: Severity
    zone: str | None
    threshold: float
    peak_probability: float | None
    peak_value: float | None
    count: int
    details: dict
    opened_at: datetime
    last_seen_at: datetime
    first_recorded_at: datetime
    last_recorded_at: datetime
    latest_prediction_id: int | None
    latest_batch_id: int | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    ack_comment: str | None
    closed_at: datetime | None
    closed_by: str | None
    outcome: Literal["confirmed", "false_alarm"] | None
    fault_type: str | None
    close_comment: str | None
    links: dict[str, str]


class AlarmDetailOut(AlarmOut):
    batch_ids: list[int]
    events: list[AlarmEventOut]


class AlarmPage(BaseModel):
    items: list[AlarmOut]
    total: int
    limit: int
    offset: int


class AcknowledgeIn(BaseModel):
    # Ignored when authenticated (the key or person is recorded); used only with auth off.
    by: str | None = Field(default=None, min_length=1, max_length=128)
    comment: str = Field(default="", max_length=1024)


class CloseIn(BaseModel):
    """Service feedback: a confirmed fault (with its class) or a false alarm, with a comment."""

    by: str | None = Field(default=None, min_length=1, max_length=128)  # as AcknowledgeIn
    outcome: Literal["confirmed", "false_alarm"]
    fault_type: str | None = Field(default=None, min_length=1, max_length=32)
    comment: str = Field(min_length=1, max_length=1024)

    @model_validator(mode="after")
    def _fault_type_iff_confirmed(self) -> CloseIn:
        if self.outcome == "confirmed" and self.fault_type is None:
            raise ValueError("fault_type is required when the outcome is 'confirmed'")
        if self.outcome == "false_alarm" and self.fault_type is not None:
            raise ValueError("fault_type must be omitted when the outcome is 'false_alarm'")
        return self

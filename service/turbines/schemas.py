"""Turbine responses."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from service.predictions.schemas import PredictionOut
from service.validation import Text


class SensorOut(BaseModel):
    name: str
    component: str | None


class TurbineOut(BaseModel):
    turbine_id: str
    site: str | None
    created_at: datetime
    last_recorded_at: datetime | None
    last_received_at: datetime | None
    sensors: list[SensorOut]
    latest_prediction: PredictionOut | None
    links: dict[str, str]


class TurbinePage(BaseModel):
    items: list[TurbineOut]
    total: int
    limit: int
    offset: int


class TurbineIn(BaseModel):
    site: Text | None = Field(default=None, max_length=64)

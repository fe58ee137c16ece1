"""Request and response bodies of the baseline endpoints, and a prediction's detection."""

from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class FitIn(BaseModel):
    """A period the operator marks as healthy: [start, end), ISO-8601 with a zone."""

    model_config = ConfigDict(extra="forbid")

    start: AwareDatetime
    end: AwareDatetime


class BaselineVersionOut(BaseModel):
    """One speed class of one version."""

    version: int
    rpm_range: list[float] | None = Field(
        description="The speed class [low, high) rpm; null: snapshots without a given rpm (or "
        "every snapshot, with speed classes off).")
    state: str = Field(description="learning | ready")
    source: str = Field(description="first_n (the class's first snapshots) | marked_period | "
                        "refreshed")
    n_seen: int
    n_required: int
    created_at: datetime
    fitted_at: datetime | None
    reset_at: datetime | None = Field(description="When a newer version superseded it.")
    period_start: datetime | None
    period_end: datetime | None


class BaselineOut(BaselineVersionOut):
    turbine_id: str
    sensor: str
    threshold: float = Field(description="Anomaly score above which a snapshot is anomalous.")
    fs_hz: float | None
    median: dict[str, float] | None = Field(description="Per feature (scale-free, log units).")
    scale: dict[str, float] | None = Field(description="Robust scale: 1.4826 x MAD, floored.")
    message: str
    classes: list[BaselineVersionOut] = Field(
        description="Every speed class of the current version, slowest first: each learns "
        "from its own first snapshots.")
    versions: list[BaselineVersionOut] = Field(
        description="Every class of every version, newest version first.")

"""Upload metadata (validated with pydantic) shared by every body format."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class BatchMeta(BaseModel):
    """What a gateway says about a snapshot besides the samples."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sensor: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$",
                        description="Sensor position, e.g. gearbox_hss, main_bearing.")
    sample_rate_hz: float = Field(description="Samples per second per channel.")
    recorded_at: AwareDatetime = Field(description="ISO-8601 with a time zone.")
    rpm: float | None = Field(default=None, gt=0, lt=100_000, description="Shaft speed, if known.")
    unit: Literal["g", "m/s2"] = Field(default="g", description="Acceleration unit of the samples.")

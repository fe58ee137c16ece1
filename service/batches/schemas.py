"""Upload metadata (validated with pydantic) shared by every body format."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator


class BatchMeta(BaseModel):
    """What a gateway says about a snapshot besides the samples.

    Values arrive as JSON scalars or as strings (Arrow/Parquet schema metadata, query parameters),
    so numbers are parsed leniently from strings; booleans are refused, NaN and Inf too.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    sensor: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$",
                        description="Sensor position, e.g. gearbox_hss, main_bearing.")
    sample_rate_hz: float = Field(gt=0, allow_inf_nan=False,
                                  description="Samples per second per channel.")
    recorded_at: AwareDatetime = Field(description="ISO-8601 with a time zone.")
    rpm: float | None = Field(default=None, gt=0, lt=100_000, allow_inf_nan=False,
                              description="Shaft speed, if known.")
    unit: Literal["g", "m/s2"] = Field(default="g", description="Acceleration unit of the samples.")

    @field_validator("sample_rate_hz", "rpm", mode="before")
    @classmethod
    def _no_bool(cls, v: object) -> object:
        # pydantic's lax mode reads True as 1.0; a boolean rate or speed is always a client bug.
        if isinstance(v, bool):
            raise ValueError("must be a number, not a boolean")
        return v

"""Batch bodies: the upload metadata (validated with pydantic) shared by every body format,
and the batch responses (also the ingest response)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from service.predictions.schemas import PredictionOut


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


class IndicatorsOut(BaseModel):
    rms_accel_m_s2: float
    rms_velocity_mm_s: float = Field(description="RMS velocity, 10-1000 Hz.")
    peak_accel_m_s2: float
    crest_factor: float
    kurtosis: float = Field(description="Pearson kurtosis; 3 for Gaussian noise.")


class RawOut(BaseModel):
    uri: str
    sha256: str
    bytes: int
    format: str = "parquet"


class BatchOut(BaseModel):
    batch_id: int
    turbine_id: str
    sensor: str
    recorded_at: datetime
    received_at: datetime
    sample_rate_hz: float
    rpm: float | None
    unit: str
    n_channels: int
    n_samples: int
    channels: list[str]
    content_type: str
    label: str | None
    raw: RawOut
    indicators: dict[str, IndicatorsOut]
    prediction: PredictionOut | None
    links: dict[str, str]


class SpectrumOut(BaseModel):
    freqs_hz: list[float]
    amplitude: dict[str, list[float]] = Field(description="Per channel, in the batch's unit.")
    unit: str


class SpectrogramOut(BaseModel):
    channel: str
    times_s: list[float] = Field(description="Start of each display column.")
    freqs_hz: list[float] = Field(description="Lower edge of each display row.")
    db: list[list[float]] = Field(description="Power in dB (max over the pooled cells), F x T.")


class BatchDetailOut(BatchOut):
    spectrum: SpectrumOut

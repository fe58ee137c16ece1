"""Response bodies for predictions and batches (also the ingest response)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class ModelRef(BaseModel):
    id: int
    name: str


class PredictionOut(BaseModel):
    id: int
    batch_id: int
    turbine_id: str
    sensor: str
    recorded_at: datetime
    created_at: datetime
    label: str
    score: float = Field(description="Probability of any fault: 1 - p(normal).")
    probabilities: dict[str, float]
    per_channel: dict[str, dict[str, float]]
    n_windows: int
    model_version: ModelRef
    links: dict[str, str]


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


class PredictionPage(BaseModel):
    items: list[PredictionOut]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next (older) page.")


class SaliencyOut(BaseModel):
    prediction_id: int
    model_version: ModelRef
    architecture: str
    method: str
    target_class: str
    freqs_hz: list[float]
    times_s: list[float] | None = Field(description="Frame times within one window (2-D model).")
    attribution: list[float] | list[list[float]] = Field(
        description="Normalised to sum 1; over frequency (1-D) or frequency x time (2-D)."
    )
    top_frequencies_hz: list[float]

"""Response bodies for predictions: verdicts, pages of them, saliency and explanations."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class ModelRef(BaseModel):
    id: int
    name: str


class DetectionOut(BaseModel):
    """Detection: how far the snapshot is from its sensor's healthy baseline."""

    score: float | None = Field(description="Anomaly score (RMS robust z); null while learning.")
    threshold: float | None
    state: str = Field(description="learning | ready")
    n_seen: int | None = Field(description="Snapshots in the baseline (so far, while learning).")
    n_required: int | None
    version: int | None
    is_anomalous: bool | None = Field(description="score > threshold; null while learning.")
    message: str


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
    detection: DetectionOut | None = Field(
        default=None, description="Null for predictions stored before detection existed.")
    links: dict[str, str]


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


class ShaftSpeedOut(BaseModel):
    shaft_hz: float | None = Field(description="Speed of the shaft the sensor watches.")
    rpm: float | None
    source: str = Field(description="batch (the batch's rpm x the configured speed ratio), "
                        "estimated (strongest line in the search range), or unavailable")
    search_range_rpm: tuple[float, float] | None = None


class MatchOut(BaseModel):
    family: str
    harmonic: int
    sideband: int = Field(description="Signed order of the modulating frequency (0: none).")
    sideband_of: str = Field(description="SHAFT, FTF or empty.")
    line_hz: float
    error_pct: float
    tolerance_hz: float
    within_tolerance: bool


class BandOut(BaseModel):
    lo_hz: float
    hi_hz: float
    peak_hz: float
    share: float = Field(description="Share of the total attribution inside the band.")
    nearest_line: MatchOut | None


class AgreementOut(BaseModel):
    share: float = Field(description="Attribution mass within tolerance of the family's lines.")
    chance: float = Field(description="Share of the frequency axis those windows cover.")
    ratio: float | None


class VerdictOut(BaseModel):
    verdict: str = Field(description="supports | contradicts | inconclusive")
    expected_family: str | None
    reason: str


class MapOut(BaseModel):
    freqs_hz: list[float] = Field(description="Centre of each displayed frequency cell.")
    times_s: list[float] | None = Field(description="Centre of each time cell (2-D model).")
    attribution: list[float] | list[list[float]] = Field(description="Sums to 1 (F or F x T).")
    per_frequency: list[float] = Field(description="Attribution per frequency cell, time summed.")


class ExplanationOut(BaseModel):
    prediction_id: int
    model_version: ModelRef
    architecture: str
    method: str
    target_class: str
    predicted_class: str
    n_windows: int
    cached: bool
    map: MapOut
    shaft_speed: ShaftSpeedOut
    geometry: dict = Field(description="Bearing designation, assumed flag, source, gear orders.")
    defect_frequencies_hz: dict[str, float]
    tolerance_pct: float
    n_harmonics: int
    bands: list[BandOut]
    agreement: dict[str, AgreementOut]
    verdict: VerdictOut

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
    rpm_range: list[float] | None = Field(
        default=None, description="The speed class [low, high) rpm whose baseline judged the "
        "snapshot (each class learns its own); null: the class of every speed, or of snapshots "
        "without a given rpm.")
    message: str


class DiagnosisOut(BaseModel):
    """The diagnosis stage's context: which geometry and speed the defect-order axes used."""

    fault_family: str = Field(description="The predicted class, or `unknown` for a fault "
                                          "diagnosed on assumed geometry.")
    geometry: str = Field(description="`registered` (the sensor's geometry) or `assumed`.")
    defect_orders: dict[str, float] = Field(description="Defect orders used (x shaft speed).")
    speed_source: str = Field(description="`given` (the batch's rpm) or `estimated`.")
    rpm: float
    comb_rpm: float | None = Field(description="The spectrum's own shaft-comb speed.")
    defect_comb_rpm: float | None = Field(
        default=None, description="Where windows were read off `rpm` because the bearing's "
                                  "defect comb lines up within 5 % of it, reading at least the "
                                  "model's `input_spec.speed_gain_db` stronger there: that "
                                  "speed (median over those windows); null when none moved.")
    speed_confidence_db: float | None = Field(
        description="Comb prominence: < 3 dB means the spectrum shows no clear shaft comb.")
    band_hz: list[float] = Field(description="Envelope band (max spectral kurtosis, widened).")
    window_s: float
    family_prominence: dict[str, float] = Field(
        description="Envelope-rule reading per family: the mean height of the family's "
                    "harmonic lines above the envelope spectrum's local floor, in "
                    "`prominence_unit` (dB: > 6 dB is a clear comb).")
    prominence_unit: str = Field(
        default="robust z", description="`dB`, or `robust z` (standard scores above the "
                                        "snapshot's own probes) for older models.")
    warnings: list[str]


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
    diagnosis: DiagnosisOut | None = Field(
        default=None, description="What a defect-order model's verdict rests on; null for "
                                  "spectrum models.")
    links: dict[str, str]


class PredictionPage(BaseModel):
    items: list[PredictionOut]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next (older) page.")


class SaliencyOut(BaseModel):
    """Input-gradient map at full resolution. Spectrum models: over ``freqs_hz`` (1-D) or
    ``freqs_hz`` x ``times_s`` (2-D). Defect-order models: ``freqs_hz`` is null and the map is
    (families x rows x cells) over ``orders`` (cell j = ``orders[j]`` multiples of each family's
    defect order; rows: shaft sidebands, then the shaft-coincidence mask)."""

    prediction_id: int
    model_version: ModelRef
    architecture: str
    method: str
    target_class: str
    axis_units: str = Field(default="Hz", description="`Hz`, `Hz x s` or `defect orders`.")
    freqs_hz: list[float] | None
    times_s: list[float] | None = Field(description="Frame times within one window (2-D model).")
    orders: list[float] | None = Field(
        default=None, description="Defect-order models: multiples of the family's defect "
                                  "order at each cell.")
    families: list[str] | None = Field(default=None, description="Defect-order models: planes.")
    rows: list[str] | None = Field(default=None, description="Defect-order models: sideband "
                                   "rows (shaft orders) and the coincidence mask row.")
    family_shares: dict[str, float] | None = Field(
        default=None, description="Defect-order models: attribution share per family plane.")
    attribution: list[float] | list[list[float]] | list[list[list[float]]] = Field(
        description="Normalised to sum 1; over frequency (1-D), frequency x time (2-D) or "
                    "families x rows x cells (defect orders).")
    top_frequencies_hz: list[float] = Field(
        description="The most salient frequencies; for defect-order models the cells' orders "
                    "at the prediction's shaft speed.")


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


class ShareOut(BaseModel):
    share: float = Field(description="Share of the attribution on these cells.")
    chance: float = Field(description="Share of the cells in the grid they are counted in.")
    ratio: float | None = Field(description="share / chance (x chance).")


class FamilyShareOut(BaseModel):
    plane: ShareOut = Field(description="The family's whole plane (chance 1 / families).")
    harmonics: ShareOut = Field(description="Harmonic cells k = 1..n, sideband rows, against "
                                            "the whole input grid (reading rows; the mask row "
                                            "carries no attribution).")
    centre: ShareOut = Field(description="Harmonic cells of the centre row (s = 0).")
    sidebands: ShareOut = Field(description="Harmonic cells of the sideband rows (s != 0).")
    in_plane: ShareOut = Field(description="Harmonic cells (centre row, |u - k| <= 2 % of k) "
                                           "as a share of the plane's own mass against the "
                                           "share of the plane they cover: the verdict's "
                                           "figure.")
    sidebands_in_plane: ShareOut = Field(description="The sideband rows' cells at the harmonic "
                                                     "columns (k x order +- 1, 2), the same way.")
    lines: ShareOut | None = Field(default=None, description="Cells whose read order is a "
                                   "harmonic k x order in any row (row s: u = k - s / order), "
                                   "share of the plane.")


class OrderBandOut(BaseModel):
    family: str
    harmonic: int
    sideband: int = Field(description="Shaft-order offset s of the row.")
    order: float = Field(description="Shaft orders: k x the family's defect order + s.")
    hz: float | None = Field(description="At the prediction's shaft speed.")
    share: float


class OrderMapOut(BaseModel):
    orders: list[float] = Field(description="Multiples of each family's defect order per cell.")
    families: list[str]
    rows: list[str] = Field(description="Sideband offsets (shaft orders), then `mask`.")
    attribution: list[list[list[float]]] = Field(description="families x rows x cells, sums 1.")
    per_family: dict[str, list[float]] = Field(description="Per family: attribution per cell, "
                                                           "rows summed.")


class DefectOrderCheckOut(BaseModel):
    """The physics check of a defect-order model's map."""

    axis_units: str = "defect orders"
    defect_orders: dict[str, float] = Field(description="Orders (x shaft speed) the input used.")
    shaft_hz: float | None
    n_harmonics: int
    tolerance_pct: float = Field(description="Harmonic cells: |u - k| <= this % of k, at "
                                             "least half a cell.")
    families: dict[str, FamilyShareOut]
    expected_family: str | None
    harmonic_share: float | None = Field(description="Expected family: its harmonic cells' "
                                                     "share of its plane.")
    chance: float | None
    x_chance: float | None = Field(description="harmonic_share / chance (target >= 3).")
    off_harmonic_share: float = Field(description="Mass on no family's harmonic cells.")
    bands: list[OrderBandOut]
    physics: str = Field(description="physics-consistent | physics-inconsistent | "
                                     "inconclusive")


class ExplanationOut(BaseModel):
    """An explanation. Spectrum models fill ``map`` (Hz); defect-order models fill
    ``order_map`` and ``defect_orders`` and leave ``map`` null; ``bands``, ``agreement`` and
    ``verdict`` are filled for both (for defect orders: harmonic groups, in Hz at the shaft
    speed, and each family's in-plane harmonic share)."""

    prediction_id: int
    model_version: ModelRef
    architecture: str
    method: str
    target_class: str
    predicted_class: str
    n_windows: int
    cached: bool
    axis_units: str = Field(default="Hz", description="`Hz`, `Hz x s` or `defect orders`.")
    map: MapOut | None = Field(description="Hz map; null for defect-order models.")
    order_map: OrderMapOut | None = None
    defect_orders: DefectOrderCheckOut | None = None
    shaft_speed: ShaftSpeedOut
    geometry: dict = Field(description="Bearing designation, assumed flag, source, gear orders.")
    defect_frequencies_hz: dict[str, float]
    tolerance_pct: float
    n_harmonics: int
    bands: list[BandOut]
    agreement: dict[str, AgreementOut]
    verdict: VerdictOut

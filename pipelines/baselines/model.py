"""A sensor's healthy baseline: robust statistics of named features, and the anomaly score.

A baseline fixes its feature names when it is fitted. Scoring a snapshot uses those names only:
a feature the snapshot lacks (or that is not finite) is left out, a new one is ignored, so extra
features (e.g. defect-line prominences) can be added to the ingest without breaking baselines
fitted before.

Score: the root mean square of the robust z-scores, each clipped at ``Z_CLIP``. RMS rather than
the maximum because a developing bearing fault moves several features together (kurtosis, crest,
spectral kurtosis, high-band shares), and the mean over ~10 features is far less noisy on healthy
data than the largest of them, so the same false-alarm rate allows a lower threshold. The clip
keeps one wild feature (a sensor glitch) from deciding alone. The default threshold is calibrated
on real healthy recordings (``pipelines.baselines.calibration``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

MAD_TO_SIGMA = 1.4826
SCALE_FLOOR = 0.05  # log units: a 5 % relative change is one robust sigma at least
Z_CLIP = 50.0
MIN_SAMPLES = 5
# RMS robust-z above which a snapshot is anomalous: the 95th percentile of healthy scores (UESTC
# normal runs, 5 % false alarms per snapshot); with the 3-of-5 alarm hysteresis, 0.2 % of alarm
# decisions on the same runs are false. ``windwatch baselines calibrate`` reproduces it.
DEFAULT_THRESHOLD = 3.6
# Speed classes: the scale-free features still move with shaft speed (excitation scales with it,
# resonances do not), so a baseline is learnt per class of log-spaced speed bins, each this
# relative width. On the real UESTC healthy runs a baseline learnt at one speed calls 53-100 % of
# the healthy snapshots at a speed 17-25 % away anomalous, and all of them 40 % or more away
# (``windwatch baselines calibrate`` prints the table); a class of 10 % keeps its speeds within
# about half the smallest gap measured.
DEFAULT_SPEED_BIN = 0.10
ANY_SPEED = -1  # the class of snapshots without a given speed, or of every one with bins off


@dataclass(frozen=True)
class Baseline:
    """Median and robust scale (1.4826 x MAD, floored) per feature, from ``n`` snapshots."""

    names: tuple[str, ...]
    median: tuple[float, ...]
    scale: tuple[float, ...]
    n: int
    fs_hz: float | None = None

    def as_dicts(self) -> tuple[dict[str, float], dict[str, float]]:
        """(median, scale) keyed by feature name."""
        return dict(zip(self.names, self.median, strict=True)), dict(zip(self.names, self.scale, strict=True))


def finite(features: Mapping[str, float]) -> dict[str, float]:
    """The finite features only, as plain floats (what is stored as JSON: no NaN, no Inf)."""
    out = {}
    for k, v in features.items():
        f = float(v)
        if np.isfinite(f):
            out[k] = f
    return out


def speed_bin(rpm: float | None, width: float) -> int:
    """The speed class of a shaft speed: bin k holds [(1+width)^k, (1+width)^(k+1)) rpm.
    ``ANY_SPEED`` when the speed is unknown (None, not positive) or ``width`` is 0 (bins off)."""
    if rpm is None or width <= 0 or not math.isfinite(rpm) or rpm <= 0:
        return ANY_SPEED
    return math.floor(math.log(rpm) / math.log1p(width))


def speed_bin_range(k: int, width: float) -> tuple[float, float] | None:
    """The [low, high) rpm of speed class ``k``; None for ``ANY_SPEED``."""
    if k == ANY_SPEED or width <= 0:
        return None
    return (1.0 + width) ** k, (1.0 + width) ** (k + 1)


def speed_class_name(rpm_range: tuple[float, float] | None) -> str:
    """A speed class in words: "1156-1272 rpm", or "any speed" for ``None``."""
    return "any speed" if rpm_range is None else f"{rpm_range[0]:.0f}-{rpm_range[1]:.0f} rpm"


def feature_matrix(samples: Sequence[Mapping[str, float]], names: Sequence[str] | None = None
                   ) -> tuple[list[str], np.ndarray]:
    """Feature dicts -> (names, (N, D) float64); missing or non-finite values are NaN. Default
    names: those every sample has, in the first sample's order."""
    if names is None:
        common = set(samples[0]) if samples else set()
        for s in samples[1:]:
            common &= set(s)
        names = [k for k in (samples[0] if samples else {}) if k in common]
    m = np.array([[float(s.get(k, np.nan)) for k in names] for s in samples], dtype=np.float64)
    m = m.reshape(len(samples), len(names))
    m[~np.isfinite(m)] = np.nan
    return list(names), m


def fit(samples: Sequence[Mapping[str, float]] | np.ndarray, names: Sequence[str] | None = None,
        fs_hz: float | None = None, scale_floor: float = SCALE_FLOOR) -> Baseline:
    """Fit a baseline from N snapshots' features (dicts, or an (N, D) array with ``names``).

    Features that are NaN in more than half of the samples are dropped. Raises ValueError for
    fewer than ``MIN_SAMPLES`` samples or when no feature is left."""
    if isinstance(samples, np.ndarray):
        if names is None or samples.ndim != 2 or samples.shape[1] != len(names):
            raise ValueError("an (N, D) array needs D feature names")
        names, m = list(names), np.where(np.isfinite(samples), samples, np.nan).astype(np.float64)
    else:
        names, m = feature_matrix(samples, names)
    if m.shape[0] < MIN_SAMPLES:
        raise ValueError(f"a baseline needs at least {MIN_SAMPLES} snapshots, got {m.shape[0]}")
    keep = np.isfinite(m).sum(axis=0) * 2 > m.shape[0]
    if not keep.any():
        raise ValueError("no feature is finite in most of the snapshots")
    m = m[:, keep]
    names = [n for n, k in zip(names, keep, strict=True) if k]
    med = np.nanmedian(m, axis=0)
    mad = np.nanmedian(np.abs(m - med), axis=0)
    scale = np.maximum(MAD_TO_SIGMA * mad, scale_floor)
    return Baseline(tuple(names), tuple(float(v) for v in med), tuple(float(v) for v in scale),
                    int(m.shape[0]), fs_hz)


def z_scores(baseline: Baseline, features: Mapping[str, float]) -> dict[str, float]:
    """Robust z-score of each baseline feature the snapshot has (finite values only)."""
    out = {}
    for name, med, sc in zip(baseline.names, baseline.median, baseline.scale, strict=True):
        v = features.get(name)
        if v is not None and np.isfinite(v):
            out[name] = float(np.clip((float(v) - med) / sc, -Z_CLIP, Z_CLIP))
    return out


def score(baseline: Baseline, features: Mapping[str, float]) -> float:
    """RMS of the clipped robust z-scores over the baseline's features the snapshot has; NaN
    when it has none of them."""
    z = np.fromiter(z_scores(baseline, features).values(), dtype=np.float64)
    return float(np.sqrt(np.mean(z * z))) if z.size else float("nan")


def score_matrix(baseline: Baseline, m: np.ndarray) -> np.ndarray:
    """Scores of the rows of an (N, D) matrix in the baseline's feature order (NaN-safe)."""
    z = np.clip((m - np.asarray(baseline.median)) / np.asarray(baseline.scale), -Z_CLIP, Z_CLIP)
    with np.errstate(invalid="ignore"):
        return np.sqrt(np.nanmean(z * z, axis=1))

"""The classical baseline an analyst would use: envelope analysis + logistic regression.

Per window (the same windows the 1-D CNN sees, at its 12 kHz model rate):
- envelope spectrum: band-pass around the structural resonance (fixed 2-5 kHz band, 4th-order
  Butterworth, zero phase), Hilbert magnitude, spectrum of the envelope (``pipelines.dsp.envelope``);
- the envelope energy at the bearing defect orders (BPFI, BPFO, 2xBSF, FTF) and the shaft
  speed, 3 harmonics each, within +-3 % of the expected frequency (speed from the recording's
  rpm), as log10(peak / median envelope level): a ratio, so gain and units cancel;
- overall level and shape: log RMS, log kurtosis, crest factor, and the log fraction of the
  power in seven bands (0-500 Hz ... 5-6 kHz).
The features are standardised (training-set mean and std) and fed to a multinomial logistic
regression with an L2 penalty, written here in numpy and fitted with scipy's L-BFGS
(scikit-learn is not a dependency). Deterministic: no random state at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

import numpy as np
import scipy.fft
import scipy.optimize
import scipy.special

from pipelines.dsp.envelope import envelope_spectrum
from pipelines.dsp.kinematics import BEARINGS, DEFAULT_BEARING

# The CWRU drive-end bearing's orders (multiples of the shaft speed); BSF2 is 2 x BSF, the rate
# at which a ball defect strikes a race. Shaft 1x is kept too: inner-race lines carry its
# sidebands.
_CWRU_ORDERS = BEARINGS[DEFAULT_BEARING].geometry.defect_orders()
DEFECT_ORDERS: dict[str, float] = {
    **{k: _CWRU_ORDERS[k] for k in ("BPFI", "BPFO", "BSF2", "FTF")}, "SHAFT": 1.0,
}
N_HARMONICS = 3
TOLERANCE = 0.03
ENVELOPE_BAND_HZ = (2000.0, 5000.0)
ENVELOPE_FMAX_HZ = 600.0  # above 3 x BPFI + 3 % at 1800 rpm (502 Hz)
BANDS_HZ = ((0, 500), (500, 1000), (1000, 2000), (2000, 3000), (3000, 4000), (4000, 5000),
            (5000, 6000))


def feature_names(orders: dict[str, float] = DEFECT_ORDERS) -> list[str]:
    """Column names of ``window_features`` in order."""
    env = [f"env_{o.lower()}_{h}x" for o in orders for h in range(1, N_HARMONICS + 1)]
    bands = [f"band_{lo}_{hi}_hz" for lo, hi in BANDS_HZ]
    return env + ["log_rms", "log_kurtosis", "crest_factor"] + bands


def order_peaks(freqs_hz: np.ndarray, amp: np.ndarray, shaft_hz: np.ndarray,
                orders: Sequence[float], n_harmonics: int = N_HARMONICS,
                tolerance: float = TOLERANCE) -> np.ndarray:
    """Largest ``amp`` (B, F) within +-``tolerance`` of each harmonic of each order.

    ``freqs_hz`` is a uniform grid from 0; ``shaft_hz`` (B,). The search interval is widened by
    half a bin on each side so that a narrow tolerance (FTF) still reaches its nearest bin.
    Returns (B, len(orders) * n_harmonics), order-major.
    """
    df = float(freqs_hz[1] - freqs_hz[0])
    mult = (np.asarray(orders)[:, None] * np.arange(1, n_harmonics + 1)[None, :]).ravel()
    target = shaft_hz[:, None] * mult[None, :]  # (B, T)
    lo = np.ceil((target * (1 - tolerance)) / df - 0.5).astype(np.int64)
    hi = np.floor((target * (1 + tolerance)) / df + 0.5).astype(np.int64)
    width = int((hi - lo).max()) + 1
    idx = lo[..., None] + np.arange(width)  # (B, T, W)
    valid = (idx <= hi[..., None]) & (idx < amp.shape[1])
    vals = np.take_along_axis(amp[:, None, :], np.clip(idx, 0, amp.shape[1] - 1), axis=2)
    return np.where(valid, vals, -np.inf).max(axis=2)


def window_features(frames: np.ndarray, fs_hz: float, rpm: np.ndarray,
                    band_hz: tuple[float, float] = ENVELOPE_BAND_HZ) -> np.ndarray:
    """(B, N) windows at ``fs_hz`` with each window's shaft speed ``rpm`` (B,) -> (B, n_features)
    float64 in the order of ``feature_names``."""
    x = np.asarray(frames, dtype=np.float64)
    x = x - x.mean(axis=1, keepdims=True)
    f_env, env = envelope_spectrum(x, fs_hz, band_hz, fmax_hz=ENVELOPE_FMAX_HZ)
    keep = f_env >= 5.0
    floor = np.median(env[:, keep], axis=1, keepdims=True) + 1e-12
    peaks = order_peaks(f_env, env, np.asarray(rpm, dtype=np.float64) / 60.0,
                        list(DEFECT_ORDERS.values()))
    env_feats = np.log10(peaks / floor + 1e-12)
    var = np.mean(x * x, axis=1)
    rms = np.sqrt(var)
    kurt = np.mean(x**4, axis=1) / np.maximum(var**2, 1e-30)
    crest = np.abs(x).max(axis=1) / np.maximum(rms, 1e-30)
    power = np.abs(scipy.fft.rfft(x, axis=1, workers=-1)) ** 2
    f = np.fft.rfftfreq(x.shape[1], 1.0 / fs_hz)
    band = np.stack([power[:, (f >= lo) & (f < hi)].sum(1) for lo, hi in BANDS_HZ], axis=1)
    band_frac = np.log10(band / np.maximum(power.sum(1, keepdims=True), 1e-30) + 1e-12)
    return np.column_stack([env_feats, np.log10(rms + 1e-12), np.log(kurt), crest, band_frac])


@dataclass
class LogisticRegression:
    """Multinomial logistic regression, L2 penalty on the weights (not the bias), optional
    per-sample weights. ``coef`` is (n_features + 1, n_classes), bias in the last row."""

    l2: float = 1e-2
    max_iter: int = 500
    coef: np.ndarray | None = None

    def _loss(self, w: np.ndarray, x1: np.ndarray, y1h: np.ndarray, sw: np.ndarray
              ) -> tuple[float, np.ndarray]:
        coef = w.reshape(x1.shape[1], y1h.shape[1])
        logits = x1 @ coef
        lse = scipy.special.logsumexp(logits, axis=1)
        nll = float(np.sum(sw * (lse - np.sum(logits * y1h, axis=1))))
        p = np.exp(logits - lse[:, None])
        grad = x1.T @ (sw[:, None] * (p - y1h))
        reg = coef.copy()
        reg[-1] = 0.0
        return nll + 0.5 * self.l2 * float(np.sum(reg * reg)), (grad + self.l2 * reg).ravel()

    def fit(self, x: np.ndarray, y: np.ndarray, n_classes: int,
            sample_weight: np.ndarray | None = None) -> LogisticRegression:
        """Fit on standardised features ``x`` (M, D) and class indices ``y`` (M,)."""
        x1 = np.column_stack([x, np.ones(len(x))])
        y1h = np.eye(n_classes)[y]
        sw = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, float)
        sw = sw / sw.sum()  # mean loss: the penalty means the same whatever the set size
        res = scipy.optimize.minimize(self._loss, np.zeros(x1.shape[1] * n_classes),
                                      args=(x1, y1h, sw), jac=True, method="L-BFGS-B",
                                      options={"maxiter": self.max_iter})
        self.coef = res.x.reshape(x1.shape[1], n_classes)
        return self

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """(M, D) -> (M, n_classes) softmax probabilities."""
        logits = np.column_stack([x, np.ones(len(x))]) @ self.coef
        return scipy.special.softmax(logits, axis=1)


@dataclass
class EnvelopeBaseline:
    """Standardiser + logistic regression over ``window_features``."""

    fs_hz: float
    mean: np.ndarray
    std: np.ndarray
    model: LogisticRegression

    def predict_proba_features(self, feats: np.ndarray) -> np.ndarray:
        """(B, n_features) from ``window_features`` -> (B, n_classes) probabilities."""
        return self.model.predict_proba((feats - self.mean) / self.std)

    def predict_proba(self, frames: np.ndarray, rpm: np.ndarray) -> np.ndarray:
        """(B, N) windows at ``fs_hz`` + rpm (B,) -> (B, n_classes)."""
        return self.predict_proba_features(window_features(frames, self.fs_hz, rpm))


def balanced_weights(y: np.ndarray, n_classes: int) -> np.ndarray:
    """Per-sample weights that give every class the same total weight."""
    counts = np.bincount(y, minlength=n_classes).astype(float)
    return 1.0 / np.maximum(counts[y], 1.0)


def fit_baseline(feats_train: np.ndarray, y_train: np.ndarray, feats_val: np.ndarray,
                 y_val: np.ndarray, fs_hz: float, n_classes: int,
                 l2_grid: Sequence[float] = (1e-4, 1e-3, 1e-2, 1e-1, 1.0)) -> EnvelopeBaseline:
    """Fit on class-balanced training features; pick the L2 strength by validation
    class-balanced accuracy (the validation set is grouped by recording, as for the CNN)."""
    mean = feats_train.mean(axis=0)
    std = feats_train.std(axis=0) + 1e-9
    ztr, zva = (feats_train - mean) / std, (feats_val - mean) / std
    sw = balanced_weights(y_train, n_classes)
    vw = balanced_weights(y_val, n_classes)
    best, best_model = -1.0, None
    for l2 in sorted(l2_grid, reverse=True):
        lr = LogisticRegression(l2=l2).fit(ztr, y_train, n_classes, sw)
        score = float(np.sum(vw * (lr.predict_proba(zva).argmax(1) == y_val)) / vw.sum())
        # Strongest penalty first, ties keep it: with a handful of validation recordings the
        # simpler model is the safer bet across loads.
        if score > best + 1e-9:
            best, best_model = score, lr
    return EnvelopeBaseline(fs_hz=fs_hz, mean=mean, std=std, model=cast(LogisticRegression, best_model))

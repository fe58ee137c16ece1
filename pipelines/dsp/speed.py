"""Shaft speed from the vibration itself: the harmonic comb that best explains the spectrum.

Used where a batch gives no rpm (the diagnosis then says the speed was *estimated*), to check a
given rpm against the spectrum (a warning when they disagree), and to refine the nominal
set-point speeds of laboratory recordings for training.
"""

from __future__ import annotations

import numpy as np
import scipy.fft

from pipelines.dsp.spectra import as_2d, fft_workers, hann


def shaft_speed_comb(x: np.ndarray, fs_hz: float, f_lo_hz: float, f_hi_hz: float,
                     n_harmonics: int = 8, n_candidates: int = 801) -> tuple[float, float]:
    """(shaft_hz, confidence) maximising the summed log power of harmonics 1..n at f, 2f, ...

    Candidates are ``n_candidates`` speeds evenly in [f_lo_hz, f_hi_hz]; each harmonic reads the
    largest bin within +-1 bin. ``confidence`` is the winner's mean harmonic level above the
    median over all candidates, in dB (a few dB: weak; > 6 dB: a clear comb). Vectorised: one
    FFT and one gather of (candidates, harmonics, 3) bins.
    """
    x = as_2d(x)
    n = x.shape[-1]
    if not 0 < f_lo_hz < f_hi_hz:
        raise ValueError(f"invalid speed range {f_lo_hz}-{f_hi_hz} Hz")
    spec = scipy.fft.rfft((x - x.mean(axis=-1, keepdims=True)) * hann(n), axis=-1,
                          workers=fft_workers())
    power = (spec.real.astype(np.float64) ** 2 + spec.imag.astype(np.float64) ** 2).sum(axis=0)
    log_p = np.log(power + 1e-30)
    f = np.linspace(f_lo_hz, f_hi_hz, n_candidates)
    k = np.round(f[:, None] * np.arange(1, n_harmonics + 1)[None, :] * n / fs_hz).astype(np.int64)
    idx = np.clip(k[..., None] + np.arange(-1, 2), 1, len(log_p) - 1)
    level = log_p[idx].max(axis=-1)  # (candidates, harmonics)
    ok = (k < len(log_p) - 1)
    score = np.where(ok, level, np.nan).mean(axis=1)
    best = int(np.nanargmax(score))
    conf_db = (score[best] - np.nanmedian(score)) * 10.0 / np.log(10.0)
    return float(f[best]), float(conf_db)

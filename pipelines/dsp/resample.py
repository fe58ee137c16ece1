"""Anti-aliased polyphase resampling, and ``resample_poly``'s filter as a matrix so that only
the stretches of a record that analysis windows use need resampling (see
``pipelines.features.windows``)."""

from __future__ import annotations

from fractions import Fraction
from functools import lru_cache

import numpy as np
import scipy.signal


def resample_ratio(fs_in_hz: float, fs_out_hz: float) -> tuple[int, int]:
    """(up, down) for ``resample_poly``; exact for integer-ish rates, else a close fraction."""
    frac = Fraction(fs_out_hz / fs_in_hz).limit_denominator(20_000)
    if frac == 0:
        raise ValueError(f"cannot resample {fs_in_hz} Hz to {fs_out_hz} Hz")
    return frac.numerator, frac.denominator


def resample(x: np.ndarray, fs_in_hz: float, fs_out_hz: float) -> np.ndarray:
    """Anti-aliased polyphase resampling along the last axis (float32 out)."""
    x = np.asarray(x, dtype=np.float32)
    up, down = resample_ratio(fs_in_hz, fs_out_hz)
    if up == down:
        return x
    return scipy.signal.resample_poly(x, up, down, axis=-1).astype(np.float32, copy=False)


@lru_cache(maxsize=16)
def polyphase_matrix(up: int, down: int) -> tuple[np.ndarray, int]:
    """``resample_poly``'s default filter as a (width, up) matrix ``m`` and an offset ``t0``.

    resample_poly computes y[j] = sum_n x[n] h[half + j*down - n*up]. Output block b (samples
    b*up .. b*up + up - 1) therefore reads x[b*down + t0 : b*down + t0 + width] and equals that
    slice @ m: a strided view and one small matmul instead of a polyphase loop.
    """
    half = 10 * max(up, down)
    h = scipy.signal.firwin(2 * half + 1, 1.0 / max(up, down), window=("kaiser", 5.0)) * up
    t0 = -(half // up)
    t1 = (half + (up - 1) * down) // up
    idx = half + np.arange(up)[None, :] * down - np.arange(t0, t1 + 1)[:, None] * up
    m = np.where((idx >= 0) & (idx <= 2 * half), h[np.clip(idx, 0, 2 * half)], 0.0)
    m = np.ascontiguousarray(m, dtype=np.float32)
    m.flags.writeable = False
    return m, t0


def filter_margin(up: int, down: int) -> int:
    """Native samples kept on each side of a window: more than the anti-aliasing filter's
    half-length (resample_poly's default, 10 * max(up, down) upsampled samples), a multiple of
    ``down``."""
    return int(np.ceil((10 * max(up, down) / up + 2) / down)) * down

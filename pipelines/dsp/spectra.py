"""Spectra of (C, N) arrays: display spectrum, log-spectrogram, shaft-speed estimate, and the
FFT helpers (Hann windows, thread budget) every spectral function here shares.

Arrays in, arrays out; units in names. Every function handles all channels of a snapshot in one
vectorised call (one FFT for all channels); nothing loops over samples in Python.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import scipy.fft
import scipy.signal
import torch


def fft_workers() -> int:
    """Threads for scipy.fft: the same budget as torch (``torch.set_num_threads``, set by the
    service to cores / workers), so that one setting governs every library's threads."""
    return torch.get_num_threads()


def as_2d(x: np.ndarray, dtype: type = np.float32) -> np.ndarray:
    """``x`` as an at-least-2-D array of ``dtype`` (a single channel becomes (1, N))."""
    return np.atleast_2d(np.asarray(x, dtype=dtype))


def pool_max(freqs_hz: np.ndarray, amp: np.ndarray, n_points: int) -> tuple[np.ndarray, np.ndarray]:
    """Reduce (..., F) bins to ``n_points`` groups by their maximum, so narrow peaks survive on
    screen. Each point's frequency is that of its group's largest bin (summed over channels)."""
    n_bins = amp.shape[-1]
    if n_points >= n_bins:
        return freqs_hz, amp
    edges = np.linspace(0, n_bins, n_points + 1).astype(np.int64)[:-1]
    pooled = np.maximum.reduceat(amp, edges, axis=-1)
    score = amp.reshape(-1, n_bins).sum(axis=0)
    group = np.repeat(np.arange(n_points), np.diff(np.append(edges, n_bins)))
    is_max = score == np.maximum.reduceat(score, edges)[group]
    # First maximal bin of each group (ties broken to the left).
    _, first = np.unique(group[is_max], return_index=True)
    return freqs_hz[np.flatnonzero(is_max)[first]], pooled


def display_spectrum(x: np.ndarray, fs_hz: float, n_points: int = 512, fmax_hz: float | None = None,
                     nperseg: int = 8192) -> tuple[np.ndarray, np.ndarray]:
    """Averaged amplitude spectrum for display: Welch (Hann, 50 % overlap, segment mean removed),
    in the signal's unit as the peak amplitude of a sinusoid, reduced to ``n_points`` by
    :func:`pool_max`. Equals ``sqrt(2 * scipy.signal.welch(..., scaling="spectrum"))``.
    Returns (freqs_hz (n_points,), amplitude (C, n_points) float32)."""
    x = as_2d(x)
    nperseg = int(min(nperseg, x.shape[-1]))
    step = max(nperseg // 2, 1)
    frames = np.lib.stride_tricks.sliding_window_view(x, nperseg, axis=-1)[:, ::step]
    frames = frames - frames.mean(axis=-1, keepdims=True)
    win = hann(nperseg)
    frames *= win
    spec = scipy.fft.rfft(frames, axis=-1, workers=fft_workers())  # (C, K, F) complex64
    power = (spec.real**2 + spec.imag**2).mean(axis=1, dtype=np.float64) / float(win.sum()) ** 2
    power[:, 1 : (None if nperseg % 2 else -1)] *= 2.0  # one-sided, except DC and Nyquist
    amp = np.sqrt(2.0 * power).astype(np.float32)
    freqs = np.fft.rfftfreq(nperseg, 1.0 / fs_hz)
    if fmax_hz is not None:
        keep = freqs <= fmax_hz
        freqs, amp = freqs[keep], amp[:, keep]
    return pool_max(freqs, amp, n_points)


@lru_cache(maxsize=16)
def hann(n: int) -> np.ndarray:
    """Periodic Hann window of ``n`` points, float32, cached and read-only."""
    w = scipy.signal.get_window("hann", n).astype(np.float32)
    w.flags.writeable = False  # shared between calls
    return w


@lru_cache(maxsize=16)
def hann_torch(n_fft: int) -> torch.Tensor:
    """Periodic Hann window as a torch tensor (the same values as :func:`hann`), cached."""
    return torch.hann_window(n_fft)  # periodic, as scipy's "hann" window


def log_spectrogram(x: np.ndarray, fs_hz: float, n_fft: int = 1024, hop: int = 256
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(C, N) -> (times_s (T,) frame centres, freqs_hz (F,), power in dB (C, F, T) float32).

    Periodic Hann window, frames fully inside the record (no padding); dB of |X|^2 with a
    1e-20 floor. torch.stft + torch.log10 (several times cheaper than np.log10 on float32).
    The array keeps torch.stft's memory order (bins fastest); np.ascontiguousarray if needed.
    """
    xt = torch.from_numpy(np.ascontiguousarray(as_2d(x)))
    if xt.shape[-1] < n_fft:
        raise ValueError(f"{xt.shape[-1]} samples is fewer than one {n_fft}-point frame")
    st = torch.stft(xt, n_fft=n_fft, hop_length=hop, window=hann_torch(n_fft), center=False,
                    return_complex=True)
    # Few, in-place element-wise ops: each torch op is a thread-pool round trip, costly on a
    # busy box; re^2 + im^2 via addcmul is ~4x cheaper than summing view_as_real's last axis.
    db = st.real.square()
    db.addcmul_(st.imag, st.imag).add_(1e-20).log10_().mul_(10.0)
    times = (np.arange(db.shape[-1]) * hop + n_fft / 2) / fs_hz
    freqs = np.arange(n_fft // 2 + 1) * (fs_hz / n_fft)
    return times, freqs, db.numpy()


def downsample_spectrogram(db: np.ndarray, max_f: int = 128, max_t: int = 128) -> np.ndarray:
    """Max-pool a (..., F, T) spectrogram to at most (max_f, max_t) cells for display."""
    f, t = db.shape[-2:]
    kf, kt = max(1, math.ceil(f / max_f)), max(1, math.ceil(t / max_t))
    pad = [(0, 0)] * (db.ndim - 2) + [(0, (-f) % kf), (0, (-t) % kt)]
    d = np.pad(db, pad, constant_values=-np.inf)
    shape = d.shape[:-2] + (d.shape[-2] // kf, kf, d.shape[-1] // kt, kt)
    return d.reshape(shape).max(axis=(-3, -1))


def estimate_shaft_hz(x: np.ndarray, fs_hz: float, f_lo: float, f_hi: float) -> float:
    """A crude shaft-speed ESTIMATE: the frequency of the strongest spectral line in
    [f_lo, f_hi] Hz (power summed over channels, Hann window, parabolic interpolation on the
    log power). Only as good as the assumption that 1x dominates that range; prefer a
    tachometer or the turbine's reported rpm when there is one.
    """
    x = as_2d(x)
    n = x.shape[-1]
    xw = (x - x.mean(axis=-1, keepdims=True)) * hann(n)
    spec = scipy.fft.rfft(xw, axis=-1, workers=fft_workers())
    k_lo = max(int(np.ceil(f_lo * n / fs_hz)), 1)
    k_hi = min(int(np.floor(f_hi * n / fs_hz)), spec.shape[-1] - 2)
    if k_hi - k_lo < 2:
        raise ValueError(f"range {f_lo:g}-{f_hi:g} Hz has too few bins at this resolution")
    power = (spec.real.astype(np.float64) ** 2 + spec.imag.astype(np.float64) ** 2).sum(axis=0)
    k = k_lo + int(np.argmax(power[k_lo : k_hi + 1]))
    a, b, c = np.log(power[k - 1 : k + 2] + 1e-300)
    denom = a - 2 * b + c
    delta = 0.5 * (a - c) / denom if denom < 0 else 0.0
    return float((k + np.clip(delta, -0.5, 0.5)) * fs_hz / n)

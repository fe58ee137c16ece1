"""Pure signal processing on (C, N) arrays: indicators, spectra, spectrograms, envelopes.

Arrays in, arrays out; units in names. Every function handles all channels of a snapshot in one
vectorised call (one FFT for all channels); nothing loops over samples in Python.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import scipy.fft
import scipy.signal
import torch

from pipelines.features import fft_workers

VELOCITY_BAND_HZ = (10.0, 1000.0)  # ISO 10816-21 / VDI 3834 overall velocity band


def _as_2d(x: np.ndarray, dtype: type = np.float32) -> np.ndarray:
    return np.atleast_2d(np.asarray(x, dtype=dtype))


def condition_indicators(
    x: np.ndarray, fs_hz: float, accel_to_m_s2: float
) -> dict[str, np.ndarray]:
    """Per-channel scalar indicators of a (C, N) acceleration record.

    ``accel_to_m_s2`` scales the data to SI (9.80665 for g, 1.0 for m/s^2). Keys, each (C,):
    rms_accel_m_s2 (mean removed); rms_velocity_mm_s (10-1000 Hz, integrated in the frequency
    domain: V = A / (j 2 pi f) in band, zero outside, Parseval for the RMS); peak_accel_m_s2
    (max |x - mean|); crest_factor (peak / rms); kurtosis (Pearson: Gaussian noise = 3, impacts
    >> 3). A constant channel gives rms 0, crest factor 0 and kurtosis 3 (no NaN to store).
    """
    x = _as_2d(x)
    n = x.shape[-1]
    # float32 throughout: numpy's pairwise summation keeps the sums accurate to ~1e-6.
    xc = x - x.mean(axis=-1, keepdims=True)
    peak = np.maximum(xc.max(axis=-1), -xc.min(axis=-1)).astype(np.float64)
    sq = np.square(xc)
    var = sq.mean(axis=-1).astype(np.float64)
    m4 = np.square(sq, out=sq).mean(axis=-1).astype(np.float64)
    rms = np.sqrt(var)
    kurt = np.divide(m4, var**2, out=np.full_like(var, 3.0), where=var > 0)

    spec = scipy.fft.rfft(xc, axis=-1, workers=fft_workers())
    # |V_k|^2 = |A_k|^2 / (2 pi f_k)^2; one-sided Parseval: rms^2 = 2 sum |X_k|^2 / N^2 (DC and
    # Nyquist lie outside the band, so the factor 2 holds for every bin used). Only the in-band
    # slice is touched: ~4 % of a 25.6 kHz spectrum.
    lo = int(np.ceil(VELOCITY_BAND_HZ[0] * n / fs_hz))
    hi = min(int(np.floor(VELOCITY_BAND_HZ[1] * n / fs_hz)) + 1, spec.shape[-1])
    weights = 1.0 / (2.0 * np.pi * np.arange(lo, hi) * (fs_hz / n)) ** 2
    band = spec[:, lo:hi]
    power = (band.real.astype(np.float64) ** 2 + band.imag.astype(np.float64) ** 2) @ weights
    v_rms = np.sqrt(2.0 * power) / n
    return {
        "rms_accel_m_s2": rms * accel_to_m_s2,
        "rms_velocity_mm_s": v_rms * accel_to_m_s2 * 1e3,
        "peak_accel_m_s2": peak * accel_to_m_s2,
        "crest_factor": np.divide(peak, rms, out=np.zeros_like(rms), where=rms > 0),
        "kurtosis": kurt,
    }


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
    x = _as_2d(x)
    nperseg = int(min(nperseg, x.shape[-1]))
    step = max(nperseg // 2, 1)
    frames = np.lib.stride_tricks.sliding_window_view(x, nperseg, axis=-1)[:, ::step]
    frames = frames - frames.mean(axis=-1, keepdims=True)
    win = _hann_np(nperseg)
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
def _hann_np(n: int) -> np.ndarray:
    w = scipy.signal.get_window("hann", n).astype(np.float32)
    w.flags.writeable = False  # shared between calls
    return w


@lru_cache(maxsize=16)
def _hann_torch(n_fft: int) -> torch.Tensor:
    return torch.hann_window(n_fft)  # periodic, as scipy's "hann" window


def log_spectrogram(x: np.ndarray, fs_hz: float, n_fft: int = 1024, hop: int = 256
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(C, N) -> (times_s (T,) frame centres, freqs_hz (F,), power in dB (C, F, T) float32).

    Periodic Hann window, frames fully inside the record (no padding); dB of |X|^2 with a
    1e-20 floor. torch.stft + torch.log10 (several times cheaper than np.log10 on float32).
    The array keeps torch.stft's memory order (bins fastest); np.ascontiguousarray if needed.
    """
    xt = torch.from_numpy(np.ascontiguousarray(_as_2d(x)))
    if xt.shape[-1] < n_fft:
        raise ValueError(f"{xt.shape[-1]} samples is fewer than one {n_fft}-point frame")
    st = torch.stft(xt, n_fft=n_fft, hop_length=hop, window=_hann_torch(n_fft), center=False,
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
    kf, kt = max(1, -(-f // max_f)), max(1, -(-t // max_t))
    pad = [(0, 0)] * (db.ndim - 2) + [(0, (-f) % kf), (0, (-t) % kt)]
    d = np.pad(db, pad, constant_values=-np.inf)
    shape = d.shape[:-2] + (d.shape[-2] // kf, kf, d.shape[-1] // kt, kt)
    return d.reshape(shape).max(axis=(-3, -1))


def envelope_spectrum(x: np.ndarray, fs_hz: float, band_hz: tuple[float, float],
                      n_points: int | None = None, fmax_hz: float | None = None,
                      order: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Envelope (demodulation) spectrum: zero-phase Butterworth band-pass around a resonance,
    Hilbert magnitude, mean removed, Hann-windowed amplitude spectrum (peak amplitude of a
    sinusoidal envelope component). Bearing defects show as lines at their defect frequencies.

    Returns (freqs_hz, amplitude (C, F) float32) up to ``fmax_hz`` (default: Nyquist),
    max-pooled to ``n_points`` if given.
    """
    x = _as_2d(x, np.float64)  # narrow IIR bands need double precision
    lo, hi = float(band_hz[0]), min(float(band_hz[1]), 0.499 * fs_hz)
    if not 0 < lo < hi:
        raise ValueError(f"invalid band {band_hz} Hz for a sample rate of {fs_hz:g} Hz")
    sos = scipy.signal.butter(order, [lo, hi], btype="bandpass", fs=fs_hz, output="sos")
    env = np.abs(scipy.signal.hilbert(scipy.signal.sosfiltfilt(sos, x, axis=-1), axis=-1))
    env -= env.mean(axis=-1, keepdims=True)
    n = env.shape[-1]
    win = scipy.signal.get_window("hann", n, fftbins=False)
    amp = np.abs(scipy.fft.rfft(env * win, axis=-1, workers=fft_workers())) * (2.0 / win.sum())
    freqs = np.fft.rfftfreq(n, 1.0 / fs_hz)
    if fmax_hz is not None:
        keep = freqs <= fmax_hz
        freqs, amp = freqs[keep], amp[:, keep]
    amp = amp.astype(np.float32)
    return (freqs, amp) if n_points is None else pool_max(freqs, amp, n_points)


def spectral_kurtosis_band(
    x: np.ndarray, fs_hz: float, n_ffts: tuple[int, ...] = (8, 16, 32, 64, 128, 256),
    f_min_hz: float | None = None, min_bandwidth_hz: float = 500.0,
) -> tuple[float, float]:
    """The band of maximum spectral kurtosis: a simple kurtogram over a few STFT band widths.

    For each ``n_fft`` (band width ``fs_hz / n_fft``), SK_k = <|X_k|^4> / <|X_k|^2>^2 - 2 over
    the frames (0 for stationary Gaussian noise, large where repeated impacts ring a resonance),
    averaged over channels. Bands starting below ``f_min_hz`` (default 2 % of fs, the shaft and
    gear region) and the DC/Nyquist bins are ignored. Returns (f_lo_hz, f_hi_hz) of the winner,
    ready for :func:`envelope_spectrum`.
    """
    xt = torch.from_numpy(np.ascontiguousarray(_as_2d(x)))
    f_min_hz = 0.02 * fs_hz if f_min_hz is None else f_min_hz
    best = (-np.inf, 0.0, 0.0)
    for n_fft in n_ffts:  # a handful of levels, each one vectorised STFT
        if xt.shape[-1] < 4 * n_fft or fs_hz / n_fft < min_bandwidth_hz:
            continue
        st = torch.stft(xt, n_fft=n_fft, hop_length=n_fft // 4, window=_hann_torch(n_fft),
                        center=False, return_complex=True)
        p = st.real.square().addcmul_(st.imag, st.imag).double()  # (C, F, T)
        sk = ((p * p).mean(dim=-1) / p.mean(dim=-1).square().clamp_min(1e-300) - 2.0).mean(dim=0)
        bw = fs_hz / n_fft
        centres = torch.arange(sk.shape[0], dtype=torch.float64) * bw
        usable = (centres - bw / 2 >= f_min_hz) & (centres + bw / 2 < fs_hz / 2)
        usable[0] = usable[-1] = False
        if not bool(usable.any()):
            continue
        sk = torch.where(usable, sk, torch.tensor(-torch.inf, dtype=sk.dtype))
        k = int(torch.argmax(sk))
        if float(sk[k]) > best[0]:
            best = (float(sk[k]), float(centres[k] - bw / 2), float(centres[k] + bw / 2))
    if not np.isfinite(best[0]):
        raise ValueError("record too short or sample rate too low for a spectral-kurtosis band")
    return best[1], best[2]


def estimate_shaft_hz(x: np.ndarray, fs_hz: float, f_lo: float, f_hi: float) -> float:
    """A crude shaft-speed ESTIMATE: the frequency of the strongest spectral line in
    [f_lo, f_hi] Hz (power summed over channels, Hann window, parabolic interpolation on the
    log power). Only as good as the assumption that 1x dominates that range; prefer a
    tachometer or the turbine's reported rpm when there is one.
    """
    x = _as_2d(x)
    n = x.shape[-1]
    xw = (x - x.mean(axis=-1, keepdims=True)) * _hann_np(n)
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

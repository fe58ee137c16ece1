"""Pure signal processing on (C, N) arrays: indicators, spectra, spectrograms, envelopes.

Arrays in, arrays out; units in names. One FFT serves all channels of a snapshot.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import scipy.fft
import scipy.signal
import torch

_LN10 = float(np.log(10.0))


def condition_indicators(x: np.ndarray, fs_hz: float, accel_to_m_s2: float) -> dict[str, np.ndarray]:
    """Per-channel indicators of a (C, N) acceleration record (any unit, scaled to SI).

    rms_accel_m_s2 (mean removed), rms_velocity_mm_s (10-1000 Hz, by integrating in the
    frequency domain: V = A / (j 2 pi f) in band, Parseval for the RMS), peak_accel_m_s2
    (max |x - mean|), crest_factor (peak / rms), kurtosis (Pearson; Gaussian noise = 3).
    """
    x = np.asarray(x, dtype=np.float32)
    n = x.shape[-1]
    xc = x - x.mean(axis=-1, keepdims=True)
    var = np.mean(xc * xc, axis=-1, dtype=np.float64)
    rms = np.sqrt(var)
    peak = np.abs(xc).max(axis=-1).astype(np.float64)
    m4 = np.mean((xc * xc) ** 2, axis=-1, dtype=np.float64)
    kurt = np.divide(m4, var**2, out=np.full_like(var, 3.0), where=var > 0)
    spec = scipy.fft.rfft(xc, axis=-1, workers=-1)
    # |V(f)|^2 = |A(f)|^2 / (2 pi f)^2; one-sided Parseval: rms^2 = 2 sum |X_k|^2 / N^2
    # (the DC and Nyquist bins are outside the band, so the factor 2 holds throughout).
    # Only the 10-1000 Hz bins are touched: a small slice of a 25.6 kHz spectrum.
    lo, hi = int(np.ceil(10.0 * n / fs_hz)), int(np.floor(1000.0 * n / fs_hz)) + 1
    hi = min(hi, spec.shape[-1])
    f = np.arange(lo, hi) * (fs_hz / n)
    sb = spec[:, lo:hi]
    power = (sb.real**2 + sb.imag**2) @ (1.0 / (2 * np.pi * f) ** 2)
    v_rms = np.sqrt(2.0 * power) / n
    return {
        "rms_accel_m_s2": rms * accel_to_m_s2,
        "rms_velocity_mm_s": v_rms * accel_to_m_s2 * 1e3,
        "peak_accel_m_s2": peak * accel_to_m_s2,
        "crest_factor": np.divide(peak, rms, out=np.zeros_like(rms), where=rms > 0),
        "kurtosis": kurt,
    }


def display_spectrum(x: np.ndarray, fs_hz: float, n_points: int = 512, nperseg: int = 8192,
                     fmax_hz: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Averaged amplitude spectrum (Welch, Hann, 50 % overlap), reduced to ``n_points`` by taking
    the maximum of each group of bins so that narrow peaks survive on screen.
    Returns (freqs_hz (n_points,), amplitude (C, n_points)) in the signal's unit (peak amplitude)."""
    x = np.atleast_2d(np.asarray(x, dtype=np.float32))
    nperseg = int(min(nperseg, x.shape[-1]))
    f, pxx = scipy.signal.welch(x, fs_hz, window="hann", nperseg=nperseg, scaling="spectrum",
                                axis=-1, detrend="constant")
    amp = np.sqrt(2.0 * pxx)  # peak amplitude of a sinusoid
    if fmax_hz is not None:
        keep = f <= fmax_hz
        f, amp = f[keep], amp[:, keep]
    n_points = min(n_points, len(f))
    edges = np.linspace(0, len(f), n_points + 1).astype(int)
    amp_ds = np.maximum.reduceat(amp, edges[:-1], axis=-1)
    # Each point's frequency is that of the group's largest bin, averaged over channels.
    idx = np.array([e + int(np.argmax(amp[:, e:edges[i + 1]].sum(axis=0)))
                    for i, e in enumerate(edges[:-1])])
    return f[idx], amp_ds.astype(np.float32)


@lru_cache(maxsize=8)
def _hann(n_fft: int) -> torch.Tensor:
    return torch.hann_window(n_fft)


def log_spectrogram(x: np.ndarray, fs_hz: float, n_fft: int = 1024, hop: int = 256
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(C, N) -> (times_s (T,), freqs_hz (F,), dB power (C, F, T) float32) with torch.stft."""
    xt = torch.from_numpy(np.ascontiguousarray(np.atleast_2d(x), dtype=np.float32))
    st = torch.stft(xt, n_fft=n_fft, hop_length=hop, window=_hann(n_fft), center=False,
                    return_complex=True)
    db = torch.log10(st.real**2 + st.imag**2 + 1e-20) * 10.0
    t = (np.arange(db.shape[-1]) * hop + n_fft / 2) / fs_hz
    f = np.arange(n_fft // 2 + 1) * fs_hz / n_fft
    return t, f, db.numpy()


def downsample_spectrogram(db: np.ndarray, max_f: int = 128, max_t: int = 128) -> np.ndarray:
    """Max-pool a (..., F, T) spectrogram to at most (max_f, max_t) for display."""
    f, t = db.shape[-2:]
    kf, kt = max(1, -(-f // max_f)), max(1, -(-t // max_t))
    pad_f, pad_t = (-f) % kf, (-t) % kt
    d = np.pad(db, [(0, 0)] * (db.ndim - 2) + [(0, pad_f), (0, pad_t)], constant_values=-np.inf)
    shp = d.shape[:-2] + (d.shape[-2] // kf, kf, d.shape[-1] // kt, kt)
    return d.reshape(shp).max(axis=(-3, -1))


def envelope_spectrum(x: np.ndarray, fs_hz: float, band_hz: tuple[float, float],
                      fmax_hz: float = 500.0) -> tuple[np.ndarray, np.ndarray]:
    """Band-pass (Butterworth, zero phase) + Hilbert magnitude + amplitude spectrum of the
    envelope: bearing defects show as lines at their defect frequencies.
    Returns (freqs_hz, amplitude (C, F)) up to ``fmax_hz``."""
    x = np.atleast_2d(np.asarray(x, dtype=np.float64))
    lo, hi = band_hz
    hi = min(hi, 0.49 * fs_hz)
    sos = scipy.signal.butter(4, [lo, hi], btype="bandpass", fs=fs_hz, output="sos")
    env = np.abs(scipy.signal.hilbert(scipy.signal.sosfiltfilt(sos, x, axis=-1), axis=-1))
    env -= env.mean(axis=-1, keepdims=True)
    n = env.shape[-1]
    amp = np.abs(scipy.fft.rfft(env * np.hanning(n), axis=-1, workers=-1)) * (4.0 / n)
    f = np.fft.rfftfreq(n, 1.0 / fs_hz)
    keep = f <= fmax_hz
    return f[keep], amp[:, keep].astype(np.float32)


def spectral_kurtosis_band(x: np.ndarray, fs_hz: float, n_fft: int = 256) -> tuple[float, float]:
    """The STFT band (one bin wide at ``n_fft``, widened to 3 bins) of maximum spectral kurtosis
    (Antoni's kurtogram, one level): where impacts excite a resonance."""
    _, f, db = log_spectrogram(np.atleast_2d(x)[:1], fs_hz, n_fft=n_fft, hop=n_fft // 4)
    p = 10 ** (db[0] / 10)  # power (F, T)
    sk = (p**2).mean(axis=1) / np.maximum(p.mean(axis=1) ** 2, 1e-30) - 2.0
    sk[f < 0.02 * fs_hz] = -np.inf  # ignore the shaft/gear region near DC
    k = int(np.argmax(sk))
    df = fs_hz / n_fft
    return max(f[k] - 1.5 * df, 1.0), min(f[k] + 1.5 * df, 0.49 * fs_hz)

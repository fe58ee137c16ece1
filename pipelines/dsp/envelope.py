"""Envelope (demodulation) analysis: the band of maximum spectral kurtosis and the envelope
spectrum in it, where bearing defects show as lines at their defect frequencies."""

from __future__ import annotations

import numpy as np
import scipy.fft
import scipy.signal
import torch

from pipelines.dsp.spectra import as_2d, fft_workers, hann_torch, pool_max


def envelope(x: np.ndarray, fs_hz: float, band_hz: tuple[float, float], order: int = 4
             ) -> np.ndarray:
    """Hilbert magnitude of the zero-phase Butterworth band-pass of ``x`` around a resonance:
    (C, N) float64, the impacts' amplitude modulation. The band's top is clipped below Nyquist."""
    x = as_2d(x, np.float64)  # narrow IIR bands need double precision
    lo, hi = float(band_hz[0]), min(float(band_hz[1]), 0.499 * fs_hz)
    if not 0 < lo < hi:
        raise ValueError(f"invalid band {band_hz} Hz for a sample rate of {fs_hz:g} Hz")
    sos = scipy.signal.butter(order, [lo, hi], btype="bandpass", fs=fs_hz, output="sos")
    return np.abs(scipy.signal.hilbert(scipy.signal.sosfiltfilt(sos, x, axis=-1), axis=-1))


def envelope_spectrum(x: np.ndarray, fs_hz: float, band_hz: tuple[float, float],
                      n_points: int | None = None, fmax_hz: float | None = None,
                      order: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Envelope (demodulation) spectrum: zero-phase Butterworth band-pass around a resonance,
    Hilbert magnitude, mean removed, Hann-windowed amplitude spectrum (peak amplitude of a
    sinusoidal envelope component). Bearing defects show as lines at their defect frequencies.

    Returns (freqs_hz, amplitude (C, F) float32) up to ``fmax_hz`` (default: Nyquist),
    max-pooled to ``n_points`` if given.
    """
    env = envelope(x, fs_hz, band_hz, order)
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
    xt = torch.from_numpy(np.ascontiguousarray(as_2d(x)))
    f_min_hz = 0.02 * fs_hz if f_min_hz is None else f_min_hz
    best = (-np.inf, 0.0, 0.0)
    for n_fft in n_ffts:  # a handful of levels, each one vectorised STFT
        if xt.shape[-1] < 4 * n_fft or fs_hz / n_fft < min_bandwidth_hz:
            continue
        st = torch.stft(xt, n_fft=n_fft, hop_length=n_fft // 4, window=hann_torch(n_fft),
                        center=False, return_complex=True)
        p = st.real.square().addcmul_(st.imag, st.imag).double()  # (C, F, T)
        # The frame moments as dot products: no (C, F, T) temporary for p * p.
        m2, m1 = torch.linalg.vecdot(p, p) / p.shape[-1], p.mean(dim=-1)
        sk = (m2 / m1.square().clamp_min(1e-300) - 2.0).mean(dim=0)
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

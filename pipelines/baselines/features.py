"""Scale-free condition features of one snapshot, for per-sensor healthy baselines.

Every feature is a logarithm of a dimensionless ratio, so a sensor's gain, unit or mounting
stiffness does not move it, and a relative change reads the same on every machine: kurtosis,
crest factor, the share of the signal's energy in fixed absolute bands, and the largest
spectral kurtosis over the frequency axis. Values are averaged over the channels.

One vectorised pass: a Welch power spectrum (for the band shares) and a short-frame STFT (for
the spectral kurtosis), a few milliseconds for 3 x 256 k samples.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.fft

from pipelines.dsp.spectra import as_2d, fft_workers, hann

# Absolute band edges (Hz). Bands below Nyquist are used as they are; the first one that crosses
# Nyquist runs from its lower edge to Nyquist ("..._up") if that edge is below 0.9 x Nyquist, so
# the bands always tile 10 Hz .. Nyquist (up to a sliver near Nyquist).
BAND_EDGES_HZ = (10.0, 100.0, 300.0, 1_000.0, 2_000.0, 4_000.0, 8_000.0, 16_000.0)
SK_FRAME_S = 0.0025  # spectral-kurtosis frames of ~2.5 ms (bands of ~400 Hz): ringing impacts
SK_BANDS_FROM_HZ = 1_000.0  # mean SK per energy band from here up (below: shaft and gear lines)
EPS = 1e-12


def band_names(fs_hz: float) -> list[tuple[str, float, float]]:
    """(name, lo_hz, hi_hz) of the energy bands usable at ``fs_hz``."""
    nyq = fs_hz / 2
    out = []
    for lo, hi in zip(BAND_EDGES_HZ, (*BAND_EDGES_HZ[1:], np.inf), strict=True):
        if hi <= nyq:
            out.append((f"log_share_{lo:g}_{hi:g}hz", lo, hi))
            continue
        if lo < 0.9 * nyq:
            out.append((f"log_share_{lo:g}hz_up", lo, nyq))
        break
    return out


def _welch_power(x: np.ndarray, fs_hz: float) -> tuple[np.ndarray, np.ndarray]:
    """(freqs_hz, power (C, F)) averaged over non-overlapping Hann segments of ~0.25 s."""
    n = x.shape[-1]
    nperseg = min(n, 2 ** max(int(round(math.log2(fs_hz / 4))), 4))
    k = n // nperseg
    seg = x[:, : k * nperseg].reshape(x.shape[0], k, nperseg)
    seg = seg - seg.mean(axis=-1, keepdims=True)
    spec = scipy.fft.rfft(seg * hann(nperseg), axis=-1, workers=fft_workers())
    power = (spec.real**2 + spec.imag**2).mean(axis=1, dtype=np.float64)
    return np.fft.rfftfreq(nperseg, 1.0 / fs_hz), power


def _spectral_kurtosis(x: np.ndarray, fs_hz: float) -> tuple[np.ndarray, np.ndarray]:
    """(freqs_hz (F,), SK (C, F)): SK_k = <|X_k|^4>/<|X_k|^2>^2 - 2 over short frames (~2.5 ms,
    no overlap), 0 for stationary Gaussian noise, large where repeated impacts ring a resonance."""
    n_fft = 2 ** max(int(round(math.log2(SK_FRAME_S * fs_hz))), 5)
    k = x.shape[-1] // n_fft
    if k < 8:
        return np.fft.rfftfreq(n_fft, 1.0 / fs_hz), np.zeros((x.shape[0], n_fft // 2 + 1))
    frames = x[:, : k * n_fft].reshape(x.shape[0], k, n_fft)
    spec = scipy.fft.rfft(frames * hann(n_fft), axis=-1, workers=fft_workers())
    p = (spec.real**2 + spec.imag**2).astype(np.float64)
    sk = (p * p).mean(axis=1) / np.maximum(p.mean(axis=1) ** 2, 1e-300) - 2.0
    return np.fft.rfftfreq(n_fft, 1.0 / fs_hz), np.maximum(sk, 0.0)


def snapshot_features(x: np.ndarray, fs_hz: float) -> dict[str, float]:
    """Scale-free features of a (C, N) snapshot, averaged over channels (see the module)."""
    x = as_2d(x)
    xc = x - x.mean(axis=-1, keepdims=True, dtype=np.float64).astype(np.float32)
    x2 = xc * xc
    var = np.maximum(x2.mean(axis=-1, dtype=np.float64), EPS)
    kurt = np.einsum("ij,ij->i", x2, x2, dtype=np.float64) / x2.shape[-1] / var**2
    crest = np.abs(xc).max(axis=-1) / np.sqrt(var)
    out = {"log_kurtosis": float(np.log(np.maximum(kurt, EPS)).mean()),
           "log_crest": float(np.log(np.maximum(crest, EPS)).mean())}
    freqs, power = _welch_power(xc, fs_hz)
    total = np.maximum(power[:, freqs >= BAND_EDGES_HZ[0]].sum(axis=-1), EPS)
    for name, lo, hi in band_names(fs_hz):
        share = power[:, (freqs >= lo) & (freqs < hi)].sum(axis=-1) / total
        out[name] = float(np.log(np.maximum(share, 1e-9)).mean())
    sk_freqs, sk = _spectral_kurtosis(xc, fs_hz)
    usable = (sk_freqs >= 0.02 * fs_hz) & (sk_freqs < fs_hz / 2)
    out["log1p_sk_max"] = float(np.log1p(sk[:, usable].max(axis=-1)).mean()) if usable.any() else 0.0
    for name, lo, hi in band_names(fs_hz):
        in_band = (sk_freqs >= lo) & (sk_freqs < hi)
        if lo >= SK_BANDS_FROM_HZ and in_band.any():
            out["log1p_sk" + name[len("log_share"):]] = float(np.log1p(sk[:, in_band].mean(axis=-1)).mean())
    return out

"""Model inputs defined in physical units, shared by training and serving.

A model is trained on a fixed frequency grid (``InputSpec``): the signal is resampled to
``fs_hz`` (anti-aliased polyphase filter), cut into windows of ``window_s`` seconds and turned
into a log-power spectrum (1-D model) or a log-spectrogram (2-D model). Any recording whose
sample rate covers the grid's top frequency is therefore accepted, whatever its native rate.

Pure functions: arrays in, arrays out. No I/O, no database.
"""

from __future__ import annotations

import numpy as np
import scipy.fft
import torch

from pipelines.dsp.spectra import fft_workers, hann, hann_torch
from pipelines.features.spec import InputSpec
from pipelines.features.windows import windows_at_model_rate

_LN10 = float(np.log(10.0))


def standardise(z: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """Zero mean, unit (sample) standard deviation over ``axes`` of each input.

    Per-input standardisation removes the sensor's gain and unit (g vs m/s^2), so the model
    learns spectral shape rather than absolute level, which differs between rigs. numpy, not
    torch: on these small arrays torch's thread-pool wake-ups cost milliseconds on a busy box.
    """
    mean = z.mean(axis=axes, keepdims=True)
    std = np.maximum(z.std(axis=axes, ddof=1, keepdims=True), np.float32(1e-6))  # = torch.std
    return (z - mean) / std


def log_spectrum(frames: np.ndarray, spec: InputSpec) -> np.ndarray:
    """(B, n_fft) float32 windows at ``spec.fs_hz`` -> (B, 1, n_bins) standardised log power."""
    x = scipy.fft.rfft(frames * hann(spec.n_fft), axis=-1, workers=fft_workers())[:, : spec.n_bins]
    mag2 = x.real**2 + x.imag**2
    z = np.log(mag2 + np.float32(1e-12)) * np.float32(10.0 / _LN10)
    return standardise(z, (1,))[:, None, :]


def log_spectrogram_inputs(frames: np.ndarray, spec: InputSpec) -> np.ndarray:
    """(B, window_len) float32 at ``spec.fs_hz`` -> (B, 1, n_bins, n_frames) standardised dB."""
    x = torch.from_numpy(np.ascontiguousarray(frames, dtype=np.float32))
    st = torch.stft(
        x,
        n_fft=spec.n_fft,
        hop_length=spec.hop,
        window=hann_torch(spec.n_fft),
        center=False,
        return_complex=True,
    )[:, : spec.n_bins, : spec.n_frames]
    z = np.ascontiguousarray((torch.log10(st.real**2 + st.imag**2 + 1e-12) * 10.0).numpy())
    return standardise(z, (1, 2))[:, None]


def model_inputs(
    x: np.ndarray, fs_hz: float, spec: InputSpec, stride: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Native-rate (C, N) signal -> model inputs (B, *spec.input_shape) and each row's channel."""
    if fs_hz / 2 <= spec.max_freq_hz:
        raise ValueError(
            f"sample rate {fs_hz:g} Hz too low: the model's frequency grid reaches "
            f"{spec.max_freq_hz:.0f} Hz, which needs more than {2 * spec.max_freq_hz:.0f} Hz"
        )
    frames, ch = windows_at_model_rate(x, fs_hz, spec, stride)
    if spec.kind == "spectrum":
        return log_spectrum(frames, spec), ch
    return log_spectrogram_inputs(frames, spec), ch

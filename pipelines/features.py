"""Model inputs defined in physical units, shared by training and serving.

A model is trained on a fixed frequency grid (``InputSpec``): the signal is resampled to
``fs_hz`` (anti-aliased polyphase filter), cut into windows of ``window_s`` seconds and turned
into a log-power spectrum (1-D model) or a log-spectrogram (2-D model). Any recording whose
sample rate covers the grid's top frequency is therefore accepted, whatever its native rate.

Pure functions: arrays in, arrays out. No I/O, no database.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from fractions import Fraction
from typing import Literal

import numpy as np
import scipy.fft
import scipy.signal
import torch

_LN10 = float(np.log(10.0))


@dataclass(frozen=True)
class InputSpec:
    """The physical definition of a model input.

    kind: ``spectrum`` -> (1, n_bins) log power of one Hann window of ``n_fft`` samples;
          ``spectrogram`` -> (1, n_bins, n_frames) log power STFT (Hann, ``hop`` samples).
    fs_hz: the rate every recording is resampled to before the transform.
    n_bins: bins kept from 0 Hz upwards; the grid is ``k * fs_hz / n_fft``.
    max_windows: windows per channel that inference averages over (spread over the record).
    """

    kind: Literal["spectrum", "spectrogram"] = "spectrum"
    fs_hz: float = 12_000.0
    n_fft: int = 4096
    n_bins: int = 1600
    hop: int = 128
    n_frames: int = 1
    max_windows: int = 8

    @property
    def window_len(self) -> int:
        """Samples (at ``fs_hz``) consumed by one model input."""
        if self.kind == "spectrum":
            return self.n_fft
        return self.n_fft + self.hop * (self.n_frames - 1)

    @property
    def window_s(self) -> float:
        return self.window_len / self.fs_hz

    @property
    def freqs_hz(self) -> np.ndarray:
        return np.arange(self.n_bins) * (self.fs_hz / self.n_fft)

    @property
    def max_freq_hz(self) -> float:
        return float(self.freqs_hz[-1])

    @property
    def times_s(self) -> np.ndarray:
        """Frame centre times within one window (spectrogram only)."""
        return (np.arange(self.n_frames) * self.hop + self.n_fft / 2) / self.fs_hz

    @property
    def input_shape(self) -> tuple[int, ...]:
        if self.kind == "spectrum":
            return (1, self.n_bins)
        return (1, self.n_bins, self.n_frames)

    def min_samples(self, fs_in_hz: float) -> int:
        """Fewest native samples that yield one model window."""
        return int(np.ceil(self.window_len * fs_in_hz / self.fs_hz)) + 1

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> InputSpec:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


SPECTRUM_SPEC = InputSpec()
SPECTROGRAM_SPEC = InputSpec(kind="spectrogram", n_fft=256, n_bins=128, hop=128, n_frames=128)


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


def window_starts(n: int, length: int, max_windows: int | None = None, stride: int | None = None) -> np.ndarray:
    """Start indices of windows of ``length`` in a record of ``n`` samples.

    With ``stride``: every ``stride`` samples (training). Otherwise up to ``max_windows``
    windows spread evenly over the record (inference), overlapping only if the record is short.
    """
    last = n - length
    if last < 0:
        return np.zeros(0, dtype=np.int64)
    if stride is not None:
        return np.arange(0, last + 1, stride, dtype=np.int64)
    k = min(max_windows or 1, last // length + 1) if last >= 0 else 0
    k = max(k, 1)
    return np.linspace(0, last, k).round().astype(np.int64)


def _standardise(z: torch.Tensor, dims: tuple[int, ...]) -> torch.Tensor:
    # Per-input standardisation removes the sensor's gain and unit (g vs m/s^2), so the model
    # learns spectral shape rather than absolute level, which differs between rigs.
    mean = z.mean(dim=dims, keepdim=True)
    std = z.std(dim=dims, keepdim=True).clamp_min(1e-6)
    return (z - mean) / std


def log_spectrum(frames: np.ndarray, spec: InputSpec) -> np.ndarray:
    """(B, n_fft) float32 windows at ``spec.fs_hz`` -> (B, 1, n_bins) standardised log power."""
    win = scipy.signal.get_window("hann", spec.n_fft).astype(np.float32)
    mag2 = np.abs(scipy.fft.rfft(frames * win, axis=-1, workers=-1)[:, : spec.n_bins]) ** 2
    z = torch.from_numpy(np.log(mag2 + 1e-12, dtype=np.float32) * (10.0 / _LN10))
    return _standardise(z, (1,)).unsqueeze(1).numpy()


def log_spectrogram_inputs(frames: np.ndarray, spec: InputSpec) -> np.ndarray:
    """(B, window_len) float32 at ``spec.fs_hz`` -> (B, 1, n_bins, n_frames) standardised dB."""
    x = torch.from_numpy(np.ascontiguousarray(frames, dtype=np.float32))
    st = torch.stft(
        x,
        n_fft=spec.n_fft,
        hop_length=spec.hop,
        window=torch.hann_window(spec.n_fft),
        center=False,
        return_complex=True,
    )[:, : spec.n_bins, : spec.n_frames]
    z = torch.log10(st.real**2 + st.imag**2 + 1e-12) * 10.0
    return _standardise(z, (1, 2)).unsqueeze(1).numpy()


def _segment_windows(x: np.ndarray, fs_hz: float, spec: InputSpec) -> np.ndarray | None:
    """Inference fast path: resample only the stretches that the windows use.

    Windows start at multiples of ``down`` native samples, so each maps to an exact output
    sample; a margin longer than the anti-aliasing filter's half-length on both sides makes the
    result equal to resampling the whole record (to float rounding). Returns (C, W, L) or None
    when the record is too short for the margins (then the caller resamples it whole).
    """
    up, down = resample_ratio(fs_hz, spec.fs_hz)
    half = 10 * max(up, down) / up  # resample_poly's default filter half-length, native samples
    margin = int(np.ceil((half + 2) / down)) * down
    seg_out = spec.window_len
    seg_in = int(np.ceil(seg_out * down / up / down)) * down + 2 * margin
    n = x.shape[-1]
    last = (n - seg_in) // down  # last start, in units of ``down``
    if last < 0:
        return None
    k = min(spec.max_windows, max(1, (n - 2 * margin) // (seg_out * down // up) or 1))
    starts = np.linspace(0, last, k).round().astype(np.int64) * down
    segs = x[:, starts[:, None] + np.arange(seg_in)[None, :]]  # (C, W, seg_in)
    out = scipy.signal.resample_poly(segs.astype(np.float32), up, down, axis=-1)
    j0 = margin * up // down
    return np.ascontiguousarray(out[..., j0 : j0 + seg_out], dtype=np.float32)


def windows_at_model_rate(
    x: np.ndarray, fs_hz: float, spec: InputSpec, stride: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(C, N) native-rate signal -> (C * W, window_len) windows at ``spec.fs_hz`` + channel index."""
    x = np.atleast_2d(x)
    if stride is None:
        frames = _segment_windows(x, fs_hz, spec)
        if frames is not None:
            ch = np.repeat(np.arange(x.shape[0]), frames.shape[1])
            return frames.reshape(-1, spec.window_len), ch
    xr = resample(x, fs_hz, spec.fs_hz)
    starts = window_starts(xr.shape[-1], spec.window_len, spec.max_windows, stride)
    if starts.size == 0:
        raise ValueError(
            f"record too short: {x.shape[-1]} samples at {fs_hz:g} Hz is less than one "
            f"{spec.window_s:.3f} s analysis window"
        )
    idx = starts[:, None] + np.arange(spec.window_len)[None, :]
    frames = xr[:, idx]  # (C, W, L)
    ch = np.repeat(np.arange(xr.shape[0]), len(starts))
    return frames.reshape(-1, spec.window_len), ch


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

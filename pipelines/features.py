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
from functools import lru_cache
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


def fft_workers() -> int:
    """Threads for scipy.fft: the same budget as torch (``torch.set_num_threads``, set by the
    service to cores / workers), so that one setting governs every library's threads."""
    return torch.get_num_threads()


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


def window_starts(
    n: int, length: int, max_windows: int | None = None, stride: int | None = None
) -> np.ndarray:
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


def _standardise(z: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    # Per-input standardisation removes the sensor's gain and unit (g vs m/s^2), so the model
    # learns spectral shape rather than absolute level, which differs between rigs. numpy, not
    # torch: on these small arrays torch's thread-pool wake-ups cost milliseconds on a busy box.
    mean = z.mean(axis=axes, keepdims=True)
    std = np.maximum(z.std(axis=axes, ddof=1, keepdims=True), np.float32(1e-6))  # = torch.std
    return (z - mean) / std


@lru_cache(maxsize=8)
def _hann(n_fft: int) -> np.ndarray:
    w = scipy.signal.get_window("hann", n_fft).astype(np.float32)
    w.flags.writeable = False
    return w


@lru_cache(maxsize=8)
def _hann_torch(n_fft: int) -> torch.Tensor:
    return torch.hann_window(n_fft)


def log_spectrum(frames: np.ndarray, spec: InputSpec) -> np.ndarray:
    """(B, n_fft) float32 windows at ``spec.fs_hz`` -> (B, 1, n_bins) standardised log power."""
    x = scipy.fft.rfft(frames * _hann(spec.n_fft), axis=-1, workers=fft_workers())[:, : spec.n_bins]
    mag2 = x.real**2 + x.imag**2
    z = np.log(mag2 + np.float32(1e-12)) * np.float32(10.0 / _LN10)
    return _standardise(z, (1,))[:, None, :]


def log_spectrogram_inputs(frames: np.ndarray, spec: InputSpec) -> np.ndarray:
    """(B, window_len) float32 at ``spec.fs_hz`` -> (B, 1, n_bins, n_frames) standardised dB."""
    x = torch.from_numpy(np.ascontiguousarray(frames, dtype=np.float32))
    st = torch.stft(
        x,
        n_fft=spec.n_fft,
        hop_length=spec.hop,
        window=_hann_torch(spec.n_fft),
        center=False,
        return_complex=True,
    )[:, : spec.n_bins, : spec.n_frames]
    z = np.ascontiguousarray((torch.log10(st.real**2 + st.imag**2 + 1e-12) * 10.0).numpy())
    return _standardise(z, (1, 2))[:, None]


@lru_cache(maxsize=16)
def _polyphase_matrix(up: int, down: int) -> tuple[np.ndarray, int]:
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


def _margin(up: int, down: int) -> int:
    """Native samples kept on each side of a window: more than the anti-aliasing filter's
    half-length (resample_poly's default, 10 * max(up, down) upsampled samples), a multiple of
    ``down``."""
    return int(np.ceil((10 * max(up, down) / up + 2) / down)) * down


def segment_starts(n: int, fs_hz: float, spec: InputSpec) -> np.ndarray | None:
    """Native-rate start of each inference window (multiples of ``down`` past the margin), or
    None when the record is too short for the margins. Window w is output samples
    ``starts[w] * up / down`` onwards of ``resample(x, fs_hz, spec.fs_hz)``."""
    up, down = resample_ratio(fs_hz, spec.fs_hz)
    margin = _margin(up, down)
    seg_out = spec.window_len
    seg_in = -(-seg_out // up) * down + 2 * margin
    last = (n - seg_in) // down  # last start, in units of ``down``
    if last < 0:
        return None
    k = min(spec.max_windows, max(1, (n - 2 * margin) // (seg_out * down // up) or 1))
    return np.linspace(0, last, k).round().astype(np.int64) * down + margin


def _segment_windows(x: np.ndarray, fs_hz: float, spec: InputSpec) -> np.ndarray | None:
    """Inference fast path: resample only the stretches that the windows use.

    Windows start at multiples of ``down`` native samples, so each maps to an exact output
    sample; the margin makes the result equal to resampling the whole record (to float32
    rounding). Returns (C, W, L) or None when the record is too short for the margins (then the
    caller resamples it whole).
    """
    starts = segment_starts(x.shape[-1], fs_hz, spec)
    if starts is None:
        return None
    up, down = resample_ratio(fs_hz, spec.fs_hz)
    seg_out, k = spec.window_len, len(starts)
    x = np.ascontiguousarray(x, dtype=np.float32)
    if up == down:
        return x[:, starts[:, None] + np.arange(seg_out)[None, :]]
    n_blocks = -(-seg_out // up)  # output blocks of ``up`` samples, each from ``down`` inputs
    m, t0 = _polyphase_matrix(up, down)
    width = m.shape[0]
    if width * up > 8 * (20 * max(up, down) + 1):
        # Awkward ratios (e.g. 97656 -> 12000 Hz = 500/4069): the matrix would be mostly zeros,
        # so filter each window's stretch with resample_poly instead.
        margin = _margin(up, down)
        idx = (starts - margin)[:, None] + np.arange(n_blocks * down + 2 * margin)[None, :]
        out = scipy.signal.resample_poly(x[:, idx], up, down, axis=-1)
        j0 = margin * up // down
        return np.ascontiguousarray(out[..., j0 : j0 + seg_out], dtype=np.float32)
    out = np.empty((x.shape[0], k, n_blocks, up), dtype=np.float32)
    span = (n_blocks - 1) * down + width
    # OpenBLAS goes multi-threaded above m*n*k = 2**18; its spinning threads then fight torch's
    # for the same cores (seen: 0.4 -> 160 ms). Chunks below that keep every call on one thread.
    rows = max(1, (1 << 18) // (up * width))
    for w, s in enumerate(starts):  # a few windows x a few chunks, all channels in each
        seg = x[:, s + t0 : s + t0 + span]  # in bounds: the margin exceeds -t0 and t1 - down
        blocks = np.lib.stride_tricks.sliding_window_view(seg, width, axis=-1)[:, ::down]
        for r in range(0, n_blocks, rows):
            np.matmul(blocks[:, r : r + rows], m, out=out[:, w, r : r + rows])
    return out.reshape(x.shape[0], k, n_blocks * up)[..., :seg_out]


def windows_at_model_rate(
    x: np.ndarray, fs_hz: float, spec: InputSpec, stride: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(C, N) native-rate signal -> (C * W, window_len) windows at ``spec.fs_hz``, channel index."""
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

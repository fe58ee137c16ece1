"""``InputSpec``: a model input defined in physical units (rate, window, frequency grid), and
the two specs the bundled models use."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np


@dataclass(frozen=True)
class InputSpec:
    """The physical definition of a model input.

    kind: ``spectrum`` -> (1, n_bins) log power of one Hann window of ``n_fft`` samples;
          ``spectrogram`` -> (1, n_bins, n_frames) log power STFT (Hann, ``hop`` samples);
          ``defect_orders`` -> (families, rows, n_cells) envelope spectrum read on defect-order
          axes (``pipelines.features.defect_orders``), at the native rate: cell j of a family
          is (j + 1) / cells_per_unit multiples of its defect order; windows of at most
          ``window_seconds`` (shorter records use the whole record).
    fs_hz: the rate every recording is resampled to before the transform.
    n_bins: bins kept from 0 Hz upwards; the grid is ``k * fs_hz / n_fft``.
    max_windows: windows per channel that inference averages over (spread over the record).
    db_per_unit: ``defect_orders`` only: the fixed scale of the input, in dB of the whitened
          envelope spectrum (dB above its own running median) per unit; 0 standardises by the
          snapshot's own probe spread instead (checkpoints saved before this field).
    speed_search: ``defect_orders`` only: how far (relative) each window may correct the given
          shaft speed to where the bearing's defect combs line up (``comb_speed_scales``);
          0 reads at the given speed (checkpoints saved before this field).
    speed_gain_db: ``defect_orders`` only: how much stronger (dB) a comb must read at a
          corrected speed for a window to move there; 4 for checkpoints saved before this
          field (what they were trained with).
    """

    kind: Literal["spectrum", "spectrogram", "defect_orders"] = "spectrum"
    fs_hz: float = 12_000.0
    n_fft: int = 4096
    n_bins: int = 1600
    hop: int = 128
    n_frames: int = 1
    max_windows: int = 8
    n_cells: int = 128
    cells_per_unit: int = 16
    window_seconds: float = 1.0
    min_seconds: float = 0.5
    db_per_unit: float = 0.0
    speed_search: float = 0.0
    speed_gain_db: float = 4.0

    @property
    def window_len(self) -> int:
        """Samples (at ``fs_hz``) consumed by one model input."""
        if self.kind == "spectrum":
            return self.n_fft
        return self.n_fft + self.hop * (self.n_frames - 1)

    @property
    def window_s(self) -> float:
        """Seconds of signal one model input covers (at most, for ``defect_orders``)."""
        if self.kind == "defect_orders":
            return self.window_seconds
        return self.window_len / self.fs_hz

    @property
    def freqs_hz(self) -> np.ndarray:
        """Frequency of each kept bin (Hz): ``k * fs_hz / n_fft``."""
        return np.arange(self.n_bins) * (self.fs_hz / self.n_fft)

    @property
    def max_freq_hz(self) -> float:
        """The grid's top frequency (Hz); a recording must reach above it. Defect-order inputs
        work at any rate whose Nyquist leaves room for an envelope band (2 kHz)."""
        if self.kind == "defect_orders":
            return 2000.0
        return float(self.freqs_hz[-1])

    @property
    def times_s(self) -> np.ndarray:
        """Frame centre times within one window (spectrogram only)."""
        return (np.arange(self.n_frames) * self.hop + self.n_fft / 2) / self.fs_hz

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one model input without the batch axis."""
        if self.kind == "spectrum":
            return (1, self.n_bins)
        if self.kind == "defect_orders":
            from pipelines.features.defect_orders import FAMILIES, N_ROWS
            return (len(FAMILIES), N_ROWS, self.n_cells)
        return (1, self.n_bins, self.n_frames)

    def min_samples(self, fs_in_hz: float) -> int:
        """Fewest native samples that yield one model window."""
        if self.kind == "defect_orders":
            return int(np.ceil(self.min_seconds * fs_in_hz))
        return int(np.ceil(self.window_len * fs_in_hz / self.fs_hz)) + 1

    def to_dict(self) -> dict:
        """The spec as a JSON-ready dict (stored in checkpoints)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> InputSpec:
        """The spec from a checkpoint's dict (unknown keys are ignored)."""
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


SPECTRUM_SPEC = InputSpec()
SPECTROGRAM_SPEC = InputSpec(kind="spectrogram", n_fft=256, n_bins=128, hop=128, n_frames=128)
DEFECT_ORDER_SPEC = InputSpec(kind="defect_orders", fs_hz=0.0, n_fft=0, n_bins=0, max_windows=8,
                              db_per_unit=6.0, speed_search=0.05, speed_gain_db=6.0)

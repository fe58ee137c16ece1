"""An experimental 1-D CNN on *envelope* spectra, for the physics-agreement comparison only.

The physics-agreement check compares spectrum and envelope inputs. The served models see
log-power spectra and spectrograms (``pipelines.features.inputs``); this module builds the envelope
counterpart the way an analyst would: per recording, the band of maximum spectral kurtosis,
zero-phase band-pass + Hilbert envelope, then per window the standardised log power spectrum
of the envelope (Hann, 4096 samples at 12 kHz = 2.93 Hz bins, 0-1.5 kHz). A small CNN trained
on it quickly (``training.fit_quick``) shows whether attributions land on the defect lines
when the input makes them easy to use. Not served; nothing is saved.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import numpy as np
import scipy.fft
import scipy.signal
import torch

from models.checkpoint import Classifier, build_model
from pipelines.dsp.envelope import envelope, spectral_kurtosis_band
from pipelines.dsp.resample import resample
from pipelines.features.inputs import standardise
from pipelines.features.spec import InputSpec
from pipelines.features.windows import gather_windows, window_starts
from pipelines.learning.datasets import CLASSES, Recording
from pipelines.learning.training import fit_quick

ENVELOPE_SPEC = InputSpec(kind="spectrum", fs_hz=12_000.0, n_fft=4096, n_bins=512, max_windows=8)


def envelope_inputs(rec: Recording, spec: InputSpec = ENVELOPE_SPEC,
                    stride_s: float | None = None) -> np.ndarray:
    """(W, 1, n_bins) standardised log power of the envelope of each window of ``rec``."""
    x = resample(rec.signal[None], rec.fs_hz, spec.fs_hz).astype(np.float64)
    lo, hi = spectral_kurtosis_band(x, spec.fs_hz)
    env = envelope(x, spec.fs_hz, (lo, hi))[0]
    stride = None if stride_s is None else max(1, int(round(stride_s * spec.fs_hz)))
    starts = window_starts(len(env), spec.n_fft, spec.max_windows, stride)
    frames = gather_windows(env, starts, spec.n_fft)
    frames = frames - frames.mean(axis=1, keepdims=True)  # the envelope's DC says nothing
    spec_c = scipy.fft.rfft(frames * np.hanning(spec.n_fft), axis=-1)[:, : spec.n_bins]
    z = 10.0 * np.log10(np.abs(spec_c) ** 2 + 1e-20)
    return standardise(z, (1,)).astype(np.float32)[:, None, :]


def train_envelope_model(train: Sequence[Recording], steps: int = 400, seed: int = 0
                         ) -> Classifier:
    """A default-config CNN1d on envelope inputs (windows every 0.1 s; 0.02 s for normal)."""
    xs, ys = [], []
    for r in train:
        x = envelope_inputs(r, stride_s=0.02 if r.label == "normal" else 0.1)
        xs.append(x)
        ys.append(np.full(len(x), CLASSES.index(cast(str, r.label))))
    x, y = np.concatenate(xs), np.concatenate(ys)
    torch.manual_seed(seed)
    config = {"n_classes": len(CLASSES), "n_bins": ENVELOPE_SPEC.n_bins}
    model = fit_quick(build_model("cnn1d", config), x, y, steps=steps, seed=seed)
    meta = {"name": "cnn1d-envelope (experimental)", "architecture": "cnn1d",
            "classes": CLASSES, "input_spec": ENVELOPE_SPEC.to_dict(), "weights_sha256": "-",
            "training_data": {"windows": len(x), "steps": steps, "seed": seed,
                              "splits": {"train": sorted(r.recording_id for r in train)}}}
    return Classifier(model, meta)

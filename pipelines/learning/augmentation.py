"""Training-time augmentation: white-noise copies of recordings at the model's rate, and
feature-domain perturbations of standardised log-power inputs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import torch
from torch import nn

from pipelines.dsp.resample import resample
from pipelines.features.spec import InputSpec
from pipelines.learning.datasets import Recording

# Noisy training copies per recording (dB); the evaluation's test SNRs are EVAL_NOISE_SNR_DB.
TRAIN_NOISE_SNR_DB = (0.0, 5.0, 10.0, 20.0)


def add_white_noise(x: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """``x`` plus white Gaussian noise at ``snr_db`` relative to x's (mean-removed) power."""
    x = np.asarray(x, dtype=np.float32)
    power = float(np.mean((x - x.mean()) ** 2))
    noise = rng.standard_normal(x.shape).astype(np.float32) * np.sqrt(power / 10 ** (snr_db / 10))
    return (x + noise).astype(np.float32)


def with_noisy_copies(recordings: Sequence[Recording], spec: InputSpec,
                      snr_db: Sequence[float], seed: int) -> list[Recording]:
    """The recordings plus one copy per SNR with white noise added *at the model's rate*.

    Real turbines never give a clean background. A feature-domain "noise floor" was not enough:
    trained without it, the CNN learnt "flat spectrum = normal" (the one normal recording is the
    quietest) and called every fault normal at 0 dB. Noise is added after resampling, so the SNR
    means the same for the 48 kHz normal recording as for the 12 kHz faults; each copy keeps the
    recording's identity (``id~snrX``), so grouped splits stay grouped.
    """
    rng = np.random.default_rng(seed)
    out = list(recordings)
    for r in recordings:
        x = resample(r.signal, r.fs_hz, spec.fs_hz)
        for snr in snr_db:
            out.append(replace(r, recording_id=f"{r.recording_id}~snr{snr:g}", fs_hz=spec.fs_hz,
                               signal=add_white_noise(x, snr, rng)))
    return out


def _standardise(x: torch.Tensor) -> torch.Tensor:
    # pipelines.features.inputs.standardise on a torch batch (every non-batch axis), kept in
    # torch so that augmentation stays on the training tensors.
    dims = tuple(range(1, x.ndim))
    return (x - x.mean(dims, keepdim=True)) / x.std(dims, keepdim=True).clamp_min(1e-6)


def augment_inputs(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Feature-domain augmentation of standardised log-power inputs (B, 1, F[, T]).

    - frequency stretch by 0.97-1.03 (speed differs ~3 % between CWRU loads; defect and shaft
      lines move with speed), linear interpolation along the frequency axis;
    - a raised noise floor on half the batch: adding white noise lifts every bin to at least
      the noise level, i.e. ``q + tau * softplus((z - q) / tau)`` in standardised dB (tau ~
      4.34 dB / a typical 12 dB spread), with the floor q drawn in standardised units;
    - a random spectral tilt of up to +-0.3 (sensor and mounting response differ).
    A random *gain* would do nothing: the inputs are standardised per window.
    """
    b, f = x.shape[0], x.shape[2]
    xf = x.transpose(2, -1) if x.ndim == 4 else x  # frequency on the last axis
    u = lambda *shape: torch.rand(*shape, generator=gen)  # noqa: E731
    scale = 0.97 + 0.06 * u(b)
    pos = (torch.arange(f, dtype=torch.float32)[None, :] * scale[:, None]).clamp(max=f - 1)
    i0 = pos.floor().long().clamp(max=f - 2)
    w = (pos - i0).view(b, *([1] * (xf.ndim - 2)), f)
    i0 = i0.view(b, *([1] * (xf.ndim - 2)), f).expand_as(xf)
    xf = xf.gather(-1, i0) * (1 - w) + xf.gather(-1, i0 + 1) * w
    tilt = (0.6 * u(b) - 0.3).view(b, *([1] * (xf.ndim - 1)))
    xf = xf + tilt * torch.linspace(-1, 1, f)
    floor = (-1.5 + 2.0 * u(b)).view(b, *([1] * (xf.ndim - 1)))
    tau = 0.35
    noisy = (u(b) < 0.5).view_as(floor)
    xf = torch.where(noisy, floor + tau * nn.functional.softplus((xf - floor) / tau), xf)
    out = xf.transpose(2, -1) if x.ndim == 4 else xf
    return _standardise(out.contiguous())

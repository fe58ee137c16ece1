"""Attribution maps of a classifier's verdict on the model's physical input axes.

Four methods, each one batched call over all windows of a snapshot (captum underneath):

- ``vanilla``: |d logit_target / d input| (Simonyan et al. 2014), captum ``Saliency``.
- ``smoothgrad``: mean |gradient| over ``n`` noisy copies of each input (Smilkov et al. 2017).
  The noisy copies are drawn here from a seeded generator and fed to ``Saliency`` as one batch:
  captum's ``NoiseTunnel`` draws from torch's *global* generator, which would make a cached map
  depend on what else the process did and race between request threads.
- ``ig``: Integrated Gradients (Sundararajan et al. 2017), 32 steps (Gauss-Legendre), baseline
  zero = the mean level of a standardised input (a featureless spectrum), captum
  ``IntegratedGradients``. The map is the *positive part*: the evidence *for* the target class.
  The magnitude |IG| = |input| x |mean gradient| inherits the input's own structure and failed
  the Adebayo sanity checks here (rank correlation ~0.5 with a fully randomised model); the
  positive part passed them (~0).
- ``gradcam``: Grad-CAM (Selvaraju et al. 2017) at the model's ``last_conv()``, ReLU'd and
  interpolated (linear / bilinear) back to the input grid, captum ``LayerGradCam``.

Every map is non-negative and has the input's shape, (B, 1, F) or (B, 1, F, T); the frequency
of row ``k`` is ``spec.freqs_hz[k]`` and the time of column ``j`` is ``spec.times_s[j]``.
Pure torch/numpy/captum: no service, no database.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import torch
from captum.attr import IntegratedGradients, LayerAttribution, LayerGradCam, Saliency
from torch import nn

from pipelines.features.inputs import model_inputs
from pipelines.features.spec import InputSpec

METHODS = ("vanilla", "smoothgrad", "ig", "gradcam")
IG_STEPS = 32
SMOOTH_SAMPLES = 16
SMOOTH_STD = 0.15  # in standardised input units: 15 % of the spectrum's spread
# Expensive methods explain at most this many windows of a snapshot (spread over channels and
# time), which bounds an on-demand IG call to ~1 s (1-D) / ~3 s (2-D) on 2 cores.
MAX_WINDOWS_EXPENSIVE = 8

# LayerGradCam registers a forward hook on the layer for the duration of a call; two threads
# explaining with one shared module at once would read each other's activations.
_HOOK_LOCK = threading.Lock()


def _tensor(x: np.ndarray | torch.Tensor, module: nn.Module) -> torch.Tensor:
    t = x.detach().float() if isinstance(x, torch.Tensor) else torch.from_numpy(
        np.ascontiguousarray(x, dtype=np.float32))
    if t.ndim == 4:  # a channels_last module (Classifier converts CNN2d) runs fastest so
        w = next((p for p in module.parameters() if p.ndim == 4), None)
        if w is not None and w.is_contiguous(memory_format=torch.channels_last):
            t = t.contiguous(memory_format=torch.channels_last)
    return t


def _targets(target: np.ndarray | int, n: int) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(target, dtype=np.int64))
    return t.expand(n).contiguous() if t.ndim == 0 else t


def _last_conv(module: nn.Module) -> nn.Module:
    if hasattr(module, "last_conv"):
        return cast(nn.Module, cast(Any, module).last_conv())
    convs = [m for m in module.modules() if isinstance(m, nn.Conv1d | nn.Conv2d)]
    if not convs:
        raise ValueError(f"{type(module).__name__} has no convolution for Grad-CAM")
    return convs[-1]


def attribute(module: nn.Module, x: np.ndarray | torch.Tensor, target: np.ndarray | int,
              method: str, *, ig_steps: int = IG_STEPS, smooth_samples: int = SMOOTH_SAMPLES,
              smooth_std: float = SMOOTH_STD, seed: int = 0, max_batch: int = 64,
              signed: bool = False) -> np.ndarray:
    """Attribution of ``target`` for every row of ``x`` (B, 1, F[, T]), float32, x's shape.

    Non-negative maps by default (|gradient|, mean |gradient|, IG's positive part, ReLU'd
    Grad-CAM); ``signed=True`` returns the raw signed gradient and IG (whose sum then equals
    logit(x) - logit(0): "completeness").
    ``module`` must be in eval mode (rows independent). ``max_batch`` bounds the inputs per
    forward pass (IG path points, SmoothGrad copies); 64 ran faster than 256 on 2 cores
    (bench/attribution_cost.py) and keeps a 2-D pass's activations to ~100 MB.
    """
    if method not in METHODS:
        raise ValueError(f"unknown attribution method {method!r}; known: {', '.join(METHODS)}")
    xt = _tensor(x, module)
    t = _targets(target, len(xt))
    if len(xt) == 0:
        return np.zeros(tuple(xt.shape), np.float32)
    with torch.enable_grad():
        if method == "vanilla":
            a = Saliency(module).attribute(xt.requires_grad_(True), target=t, abs=not signed)
        elif method == "smoothgrad":
            a = _smoothgrad(module, xt, t, smooth_samples, smooth_std, seed, max_batch)
        elif method == "ig":
            ig = IntegratedGradients(module, multiply_by_inputs=True)
            a = ig.attribute(xt, baselines=0.0, target=t, n_steps=ig_steps,
                             internal_batch_size=max(max_batch, len(xt)))
            a = a if signed else a.clamp_min(0.0)
        else:
            a = _gradcam(module, xt, t)
    return np.ascontiguousarray(a.detach().float().contiguous().numpy())


def _smoothgrad(module: nn.Module, xt: torch.Tensor, t: torch.Tensor, n: int, std: float,
                seed: int, max_batch: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    noise = torch.randn((n, *xt.shape), generator=gen) * std
    noisy = (xt[None] + noise).reshape(-1, *xt.shape[1:])  # (n * B, ...) copies, row-major
    tt = t.repeat(n)
    sal = Saliency(module)
    parts = [sal.attribute(_tensor(c, module).requires_grad_(True), target=tc, abs=True)
             for c, tc in zip(noisy.split(max_batch), tt.split(max_batch), strict=True)]
    return torch.cat(parts).reshape(n, *xt.shape).mean(dim=0)


def _gradcam(module: nn.Module, xt: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    with _HOOK_LOCK:
        cam = LayerGradCam(module, _last_conv(module)).attribute(
            xt, target=t, relu_attributions=True)
    mode = "linear" if xt.ndim == 3 else "bilinear"
    # Cells of the last layer are centred over the input bins they pool (align_corners=False).
    return LayerAttribution.interpolate(cam.float(), tuple(xt.shape[2:]), interpolate_mode=mode)


def normalise_rows(a: np.ndarray) -> np.ndarray:
    """Each row (window) scaled to sum 1 (an all-zero row stays zero): every window then
    counts equally in a snapshot's mean map, however large its gradients are."""
    flat = a.reshape(len(a), -1).astype(np.float64)
    total = flat.sum(axis=1, keepdims=True)
    return (np.divide(flat, total, out=np.zeros_like(flat), where=total > 0)).reshape(a.shape)


@dataclass
class AttributionMap:
    """A snapshot's attribution, summing to 1: (F,) for spectra, (F, T) for spectrograms."""

    values: np.ndarray
    freqs_hz: np.ndarray
    times_s: np.ndarray | None
    method: str
    n_windows: int

    @property
    def per_freq(self) -> np.ndarray:
        """Attribution per frequency bin (time summed out)."""
        return self.values if self.values.ndim == 1 else self.values.sum(axis=1)


def pick_windows(n: int, k: int) -> np.ndarray:
    """At most ``k`` row indices spread evenly over ``n`` rows (rows are channel-major)."""
    return np.unique(np.linspace(0, n - 1, min(n, k)).round().astype(np.int64))


def snapshot_inputs(x: np.ndarray, fs_hz: float, spec: InputSpec) -> np.ndarray:
    """The model inputs of a (C, N) snapshot, as inference cuts them."""
    inputs, _ = model_inputs(np.atleast_2d(x), fs_hz, spec)
    return inputs


def attribution_map(module: nn.Module, inputs: np.ndarray, spec: InputSpec, target: int,
                    method: str, max_windows: int | None = None) -> AttributionMap:
    """Mean per-window-normalised attribution of ``target`` over (a subset of) ``inputs``.

    ``max_windows`` defaults to all windows for the cheap methods and
    ``MAX_WINDOWS_EXPENSIVE`` for IG and SmoothGrad.
    """
    if max_windows is None:
        max_windows = MAX_WINDOWS_EXPENSIVE if method in ("ig", "smoothgrad") else len(inputs)
    rows = inputs[pick_windows(len(inputs), max_windows)]
    a = normalise_rows(attribute(module, rows, target, method))
    values = a.mean(axis=0)[0]
    values /= max(values.sum(), 1e-30)
    times = spec.times_s if spec.kind == "spectrogram" else None
    return AttributionMap(values.astype(np.float32), spec.freqs_hz, times, method, len(rows))

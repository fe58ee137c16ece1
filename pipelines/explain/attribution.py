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
Defect-order inputs (B, families, rows, cells) get maps of that shape: cell j of a family is
(j + 1) / cells_per_unit multiples of its defect order. Their IG baseline keeps the input's
shaft-coincidence mask row (geometry, not evidence) and zeroes the readings; the family models'
last convolution runs on (B x families, ...), so Grad-CAM's map is folded back to
(B, families, cells) and spread evenly over the sideband rows (it has no row resolution).
A defect-order map puts nothing on the mask row: what the verdict owes to the *measurement*
is asked, and the mask is the same for every snapshot of a bearing.
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

from pipelines.features.defect_orders import N_ROWS, SIDEBANDS, Z_SCALE, defect_order_inputs
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
              signed: bool = False, baselines: np.ndarray | float = 0.0) -> np.ndarray:
    """Attribution of ``target`` for every row of ``x`` (B, 1, F[, T]), float32, x's shape.

    Non-negative maps by default (|gradient|, mean |gradient|, IG's positive part, ReLU'd
    Grad-CAM); ``signed=True`` returns the raw signed gradient and IG (whose sum then equals
    logit(x) - logit(baseline): "completeness"). ``baselines``: IG's reference input (0 or an
    array of x's shape).
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
            base = (baselines if isinstance(baselines, float)
                    else _tensor(baselines, module).to(xt.dtype))
            a = ig.attribute(xt, baselines=base, target=t, n_steps=ig_steps,
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
    if xt.ndim == 4 and cam.shape[0] == xt.shape[0] * xt.shape[1] != xt.shape[0]:
        return _fold_families(cam.float(), xt)
    mode = "linear" if xt.ndim == 3 else "bilinear"
    # Cells of the last layer are centred over the input bins they pool (align_corners=False).
    return LayerAttribution.interpolate(cam.float(), tuple(xt.shape[2:]), interpolate_mode=mode)


def _fold_families(cam: torch.Tensor, xt: torch.Tensor) -> torch.Tensor:
    """(B x F, 1, [1,] L') Grad-CAM of a family model -> (B, F, R, L): cells interpolated to the
    input's, the value spread evenly over the sideband rows (the mask row gets none)."""
    b, f, r, length = xt.shape
    per_cell = cam.reshape(b * f, 1, -1)
    if per_cell.shape[-1] != length:
        per_cell = LayerAttribution.interpolate(per_cell, (length,), interpolate_mode="linear")
    per_cell = per_cell.reshape(b, f, 1, length)
    rows = torch.zeros(r, dtype=per_cell.dtype)
    rows[: min(r, len(SIDEBANDS))] = 1.0 / min(r, len(SIDEBANDS))
    return per_cell * rows[None, None, :, None]


def normalise_rows(a: np.ndarray) -> np.ndarray:
    """Each row (window) scaled to sum 1 (an all-zero row stays zero): every window then
    counts equally in a snapshot's mean map, however large its gradients are."""
    flat = a.reshape(len(a), -1).astype(np.float64)
    total = flat.sum(axis=1, keepdims=True)
    return (np.divide(flat, total, out=np.zeros_like(flat), where=total > 0)).reshape(a.shape)


@dataclass
class AttributionMap:
    """A snapshot's attribution, summing to 1: (F,) for spectra, (F, T) for spectrograms,
    (families, rows, cells) for defect-order inputs (``freqs_hz`` then empty, ``orders`` the
    cells' multiples of each family's defect order)."""

    values: np.ndarray
    freqs_hz: np.ndarray
    times_s: np.ndarray | None
    method: str
    n_windows: int
    orders: np.ndarray | None = None

    @property
    def per_freq(self) -> np.ndarray:
        """Attribution per frequency bin (time summed out); per cell (families and rows summed)
        for defect-order maps."""
        if self.orders is not None:
            return self.values.sum(axis=(0, 1))
        return self.values if self.values.ndim == 1 else self.values.sum(axis=1)


def pick_windows(n: int, k: int) -> np.ndarray:
    """At most ``k`` row indices spread evenly over ``n`` rows (rows are channel-major)."""
    return np.unique(np.linspace(0, n - 1, min(n, k)).round().astype(np.int64))


def snapshot_inputs(x: np.ndarray, fs_hz: float, spec: InputSpec, shaft_hz: float | None = None,
                    defect_orders: dict[str, float] | None = None) -> np.ndarray:
    """The model inputs of a (C, N) snapshot, as inference cuts them. Defect-order specs need
    the shaft speed and defect orders the prediction used."""
    if spec.kind == "defect_orders":
        if shaft_hz is None or defect_orders is None:
            raise ValueError("defect-order inputs need the shaft speed and the defect orders")
        inputs, _, _ = defect_order_inputs(np.atleast_2d(x), fs_hz, spec, shaft_hz,
                                           defect_orders)
        return inputs
    inputs, _ = model_inputs(np.atleast_2d(x), fs_hz, spec)
    return inputs


def order_baseline(inputs: np.ndarray) -> np.ndarray:
    """IG's reference for defect-order inputs: the probes' level (0) in every reading row, the
    input's own shaft-coincidence mask row kept."""
    base = np.zeros_like(inputs, dtype=np.float32)
    if inputs.shape[2] == N_ROWS:
        base[:, :, N_ROWS - 1] = inputs[:, :, N_ROWS - 1]
    return base


def attribution_map(module: nn.Module, inputs: np.ndarray, spec: InputSpec, target: int,
                    method: str, max_windows: int | None = None) -> AttributionMap:
    """Mean per-window-normalised attribution of ``target`` over (a subset of) ``inputs``.

    ``max_windows`` defaults to all windows for the cheap methods and
    ``MAX_WINDOWS_EXPENSIVE`` for IG and SmoothGrad.
    """
    if max_windows is None:
        max_windows = MAX_WINDOWS_EXPENSIVE if method in ("ig", "smoothgrad") else len(inputs)
    rows = inputs[pick_windows(len(inputs), max_windows)]
    if spec.kind == "defect_orders":
        raw = attribute(module, rows, target, method, baselines=order_baseline(rows),
                        smooth_std=SMOOTH_STD * Z_SCALE)
        if raw.shape[2] == N_ROWS:  # the mask row is geometry, the same for every snapshot
            raw[:, :, N_ROWS - 1] = 0.0
        a = normalise_rows(raw)
        values = a.mean(axis=0)
        values /= max(values.sum(), 1e-30)
        orders = (np.arange(spec.n_cells) + 1.0) / spec.cells_per_unit
        return AttributionMap(values.astype(np.float32), np.zeros(0), None, method, len(rows),
                              orders)
    a = normalise_rows(attribute(module, rows, target, method))
    values = a.mean(axis=0)[0]
    values /= max(values.sum(), 1e-30)
    times = spec.times_s if spec.kind == "spectrogram" else None
    return AttributionMap(values.astype(np.float32), spec.freqs_hz, times, method, len(rows))

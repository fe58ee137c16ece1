"""Attribution maps over a module's input axes (frequency for spectra; frequency x time for
spectrograms): which parts of the input moved the target class's logit.

All functions take ``x`` as (B, *input_shape) (numpy or torch), ``target`` as (B,) class
indices, and return float32 numpy arrays of ``x``'s shape. They use ``torch.autograd.grad``
with respect to the input only, so parameter ``.grad`` buffers are never written: calls from
several threads on one eval-mode module do not interfere.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


def _as_tensor(x: np.ndarray | torch.Tensor) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x.detach().to(torch.float32)
    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))


def _target(target: np.ndarray | torch.Tensor | int, n: int) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(target, dtype=np.int64))
    return t.expand(n) if t.ndim == 0 else t


def _memory_format(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    # A module converted to channels_last runs fastest on inputs in the same layout.
    if x.ndim == 4:
        w = next((p for p in module.parameters() if p.ndim == 4), None)
        if w is not None and w.is_contiguous(memory_format=torch.channels_last):
            return x.contiguous(memory_format=torch.channels_last)
    return x


def _target_logit_grad(module: nn.Module, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """d logit[target] / d x for each row (signed), shape of ``x``."""
    with torch.enable_grad():
        xg = _memory_format(module, x).requires_grad_(True)
        logits = module(xg)
        picked = logits.gather(1, target[:, None]).sum()  # rows are independent in eval mode
        (grad,) = torch.autograd.grad(picked, xg)
    return grad


def input_gradient(module: nn.Module, x: np.ndarray | torch.Tensor,
                   target: np.ndarray | torch.Tensor | int) -> np.ndarray:
    """|d logit[target] / d input| (Simonyan et al. 2014), same shape as ``x``.

    ``module`` must be in eval mode (batch norm and dropout then treat rows independently).
    """
    xt = _as_tensor(x)
    grad = _target_logit_grad(module, xt, _target(target, len(xt)))
    return np.ascontiguousarray(grad.abs().numpy())


def smoothgrad(module: nn.Module, x: np.ndarray | torch.Tensor,
               target: np.ndarray | torch.Tensor | int, n_samples: int = 16,
               noise_std: float = 0.15, seed: int = 0) -> np.ndarray:
    """SmoothGrad (Smilkov et al. 2017): mean |input gradient| over ``n_samples`` noisy copies.

    ``noise_std`` is in the input's own units; the models see per-input standardised dB, so 0.15
    is 15 % of the spectrum's spread. Seeded, so the same call gives the same map.
    """
    xt = _as_tensor(x)
    t = _target(target, len(xt))
    gen = torch.Generator().manual_seed(seed)
    total = torch.zeros_like(xt)
    for _ in range(n_samples):  # loop over noise draws, each one batched over all rows
        noisy = xt + noise_std * torch.randn(xt.shape, generator=gen)
        total += _target_logit_grad(module, noisy, t).abs()
    return np.ascontiguousarray((total / n_samples).numpy())


def integrated_gradients(module: nn.Module, x: np.ndarray | torch.Tensor,
                         target: np.ndarray | torch.Tensor | int, steps: int = 32,
                         baseline: np.ndarray | torch.Tensor | None = None,
                         max_batch: int = 64) -> np.ndarray:
    """Integrated Gradients (Sundararajan et al. 2017), |attribution|, shape of ``x``.

    Riemann midpoint sum of gradients along the straight path from ``baseline`` (default zeros:
    the mean level of a standardised input, i.e. a featureless spectrum) to ``x``, times
    ``x - baseline``. Path points are batched, at most ``max_batch`` inputs per forward pass.
    """
    xt = _as_tensor(x)
    t = _target(target, len(xt))
    base = torch.zeros_like(xt) if baseline is None else _as_tensor(baseline).expand_as(xt)
    alphas = (torch.arange(steps, dtype=torch.float32) + 0.5) / steps  # midpoints in (0, 1)
    view = (-1,) + (1,) * xt.ndim
    total = torch.zeros_like(xt)
    chunk = max(1, max_batch // max(1, len(xt)))  # path points per forward pass
    for a in alphas.split(chunk):  # loop over chunks of path points, batched over rows
        path = base[None] + a.view(view) * (xt - base)[None]  # (k, B, ...)
        g = _target_logit_grad(module, path.reshape(-1, *xt.shape[1:]), t.repeat(len(a)))
        total += g.reshape(len(a), *xt.shape).sum(dim=0)
    avg = total / steps
    return np.ascontiguousarray(((xt - base) * avg).abs().numpy())

"""Sanity checks for attribution maps (Adebayo et al., "Sanity Checks for Saliency Maps",
NeurIPS 2018): a map that stays the same once the model's weights are randomised does not
explain the model."""

from __future__ import annotations

import copy
from typing import Any, cast

import numpy as np
import scipy.stats
import torch
from torch import nn

from pipelines.explain.attribution import attribute


def spearman_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Spearman rank correlation between each row's flattened maps in ``a`` and ``b``."""
    ra = scipy.stats.rankdata(a.reshape(len(a), -1), axis=1)
    rb = scipy.stats.rankdata(b.reshape(len(b), -1), axis=1)
    ra -= ra.mean(axis=1, keepdims=True)
    rb -= rb.mean(axis=1, keepdims=True)
    den = np.sqrt((ra * ra).sum(axis=1) * (rb * rb).sum(axis=1))
    return np.divide((ra * rb).sum(axis=1), den, out=np.zeros(len(a)), where=den > 0)


def parametrised_layers(module: nn.Module) -> list[tuple[str, nn.Module]]:
    """Convolutions and linear layers from the output back to the input (cascade order)."""
    layers: list[tuple[str, nn.Module]] = [
        (n, m) for n, m in module.named_modules() if isinstance(m, nn.Conv1d | nn.Conv2d | nn.Linear)]
    return layers[::-1]


def cascading_randomisation(module: nn.Module, x: np.ndarray, target: np.ndarray | int,
                            method: str, seed: int = 0, **kw) -> list[tuple[str, float]]:
    """Re-initialise layers one by one from the top, cumulatively, and give after each step
    the mean Spearman correlation of the maps with the trained model's. A map that still
    looks the same once the weights are random does not explain the model."""
    original = attribute(module, x, target, method, **kw)
    work = copy.deepcopy(module).eval()
    out = []
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        for name, layer in parametrised_layers(work):
            with torch.no_grad():
                cast(Any, layer).reset_parameters()
            out.append((name, float(spearman_rows(original, attribute(work, x, target, method,
                                                                      **kw)).mean())))
    return out

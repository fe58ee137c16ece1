"""A small 1-D CNN over a log-power spectrum (after Bach-Andersen et al., Wind Energy 2018).

Conv-BN-ReLU blocks slide along the frequency axis; a global average pool at the end makes the
verdict depend on *which spectral patterns* occur (harmonic families, sidebands, resonance
bumps) rather than on one exact bin, so a few percent of speed change between recordings does
not move the features out of place. Every layer keeps the frequency axis, so input-gradient and
class-activation maps line up with the input's frequency grid.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class CNN1dConfig:
    n_classes: int = 4
    n_bins: int = 1600  # input length: frequency bins of the spectrum (informational)
    channels: tuple[int, ...] = (16, 32, 48, 64, 64, 96)
    kernels: tuple[int, ...] = (7, 5, 5, 3, 3, 3)
    # Max-pool by 2 after every block but the last: the receptive field of the last layer is
    # then ~170 bins (~500 Hz at 2.93 Hz/bin), wide enough for a few bearing-defect harmonics.
    dropout: float = 0.2


def _block(c_in: int, c_out: int, k: int, pool: bool) -> list[nn.Module]:
    layers: list[nn.Module] = [
        nn.Conv1d(c_in, c_out, k, padding=k // 2, bias=False),  # BN supplies the bias
        nn.BatchNorm1d(c_out),
        nn.ReLU(inplace=True),
    ]
    if pool:
        layers.append(nn.MaxPool1d(2))
    return layers


class CNN1d(nn.Module):
    """Spectrum classifier: (B, 1, n_bins) standardised log power -> (B, n_classes) logits."""

    def __init__(self, cfg: CNN1dConfig):
        super().__init__()
        if len(cfg.channels) != len(cfg.kernels):
            raise ValueError("channels and kernels must have the same length")
        self.cfg = cfg
        layers: list[nn.Module] = []
        c_in = 1
        for i, (c, k) in enumerate(zip(cfg.channels, cfg.kernels, strict=True)):
            layers += _block(c_in, c, k, pool=i < len(cfg.channels) - 1)
            c_in = c
        self.features = nn.Sequential(*layers)
        self.dropout = nn.Dropout(cfg.dropout)
        self.head = nn.Linear(c_in, cfg.n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, 1, n_bins) float32, per-input standardised log power (dB) on the model's fixed
        frequency grid (bin k = k * fs_hz / n_fft Hz). Any n_bins >= 2**(len(channels)-1) works.

        Returns logits (B, n_classes) (softmax them for probabilities).
        """
        h = self.features(x)  # (B, C, n_bins / 2**(n_blocks-1))
        h = h.mean(dim=-1)  # global average pool over frequency -> (B, C)
        return self.head(self.dropout(h))

    def last_conv(self) -> nn.Module:
        """The last convolution (for Grad-CAM)."""
        return [m for m in self.features if isinstance(m, nn.Conv1d)][-1]

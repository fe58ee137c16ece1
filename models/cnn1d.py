"""A small 1-D CNN over a log-power spectrum (the Bach-Andersen et al. 2018 approach)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class CNN1dConfig:
    n_classes: int = 4
    n_bins: int = 1600  # input length: frequency bins of the spectrum
    channels: tuple[int, ...] = (16, 32, 64, 64, 64)
    kernels: tuple[int, ...] = (7, 5, 5, 3, 3)
    pooled_bins: int = 8  # coarse frequency positions kept before the classifier head
    hidden: int = 64
    dropout: float = 0.3


class CNN1d(nn.Module):
    """Conv-BN-ReLU-MaxPool blocks along frequency, then a head that keeps coarse frequency
    position (adaptive pooling to ``pooled_bins``): where in the spectrum energy sits matters
    for diagnosis, the exact bin does not (speed varies)."""

    def __init__(self, cfg: CNN1dConfig):
        super().__init__()
        self.cfg = cfg
        layers: list[nn.Module] = []
        c_in = 1
        for i, (c, k) in enumerate(zip(cfg.channels, cfg.kernels, strict=True)):
            layers += [nn.Conv1d(c_in, c, k, padding=k // 2, bias=False), nn.BatchNorm1d(c),
                       nn.ReLU(inplace=True)]
            if i < len(cfg.channels) - 1:
                layers.append(nn.MaxPool1d(2))
            c_in = c
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool1d(cfg.pooled_bins)
        self.head = nn.Sequential(
            nn.Flatten(), nn.Dropout(cfg.dropout), nn.Linear(c_in * cfg.pooled_bins, cfg.hidden),
            nn.ReLU(inplace=True), nn.Dropout(cfg.dropout), nn.Linear(cfg.hidden, cfg.n_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, 1, n_bins) standardised log power (dB) on the model's fixed grid in Hz.
        Returns logits (B, n_classes)."""
        return self.head(self.pool(self.features(x)))

    def last_conv(self) -> nn.Module:
        """The last convolution (for Grad-CAM)."""
        return [m for m in self.features if isinstance(m, nn.Conv1d)][-1]

"""A small 2-D CNN over a log-spectrogram (frequency x time)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class CNN2dConfig:
    n_classes: int = 4
    n_bins: int = 128  # frequency rows
    n_frames: int = 128  # time columns
    channels: tuple[int, ...] = (16, 32, 64, 64)
    pooled_bins: int = 8
    hidden: int = 64
    dropout: float = 0.3


class CNN2d(nn.Module):
    """Conv-BN-ReLU-MaxPool blocks; the head averages over time (a stationary snapshot's verdict
    does not depend on when within the window an impact fell) but keeps coarse frequency."""

    def __init__(self, cfg: CNN2dConfig):
        super().__init__()
        self.cfg = cfg
        layers: list[nn.Module] = []
        c_in = 1
        for c in cfg.channels:
            layers += [nn.Conv2d(c_in, c, 3, padding=1, bias=False), nn.BatchNorm2d(c),
                       nn.ReLU(inplace=True), nn.MaxPool2d(2)]
            c_in = c
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d((cfg.pooled_bins, 1))
        self.head = nn.Sequential(
            nn.Flatten(), nn.Dropout(cfg.dropout), nn.Linear(c_in * cfg.pooled_bins, cfg.hidden),
            nn.ReLU(inplace=True), nn.Dropout(cfg.dropout), nn.Linear(cfg.hidden, cfg.n_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, 1, n_bins, n_frames) standardised log power (dB), frequency rows on the model's
        grid in Hz, time columns ``hop / fs_hz`` seconds apart. Returns logits (B, n_classes)."""
        return self.head(self.pool(self.features(x)))

    def last_conv(self) -> nn.Module:
        return [m for m in self.features if isinstance(m, nn.Conv2d)][-1]

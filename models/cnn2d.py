"""A small 2-D CNN over a log-spectrogram (frequency rows x time columns).

3x3 Conv-BN-ReLU blocks with 2x2 max pooling, then a global average pool over frequency and
time: a stationary snapshot's verdict should not depend on when within the window an impact
fell, and pooling over frequency too keeps the model tolerant of small speed changes. For CPU
speed, run it in ``torch.channels_last`` memory format (``Classifier`` does), which avoids the
slow default-layout ``max_pool2d`` path.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class CNN2dConfig:
    n_classes: int = 4
    n_bins: int = 128  # frequency rows (informational)
    n_frames: int = 128  # time columns (informational)
    # Few channels at full resolution, more after pooling: the 128x128 layers dominate the
    # cost, so keeping them narrow holds the forward pass to ~35 MFLOP per input.
    channels: tuple[int, ...] = (8, 16, 32, 64, 80)
    dropout: float = 0.2


class CNN2d(nn.Module):
    """Spectrogram classifier: (B, 1, n_bins, n_frames) standardised dB -> (B, n_classes)."""

    def __init__(self, cfg: CNN2dConfig):
        super().__init__()
        self.cfg = cfg
        layers: list[nn.Module] = []
        c_in = 1
        for i, c in enumerate(cfg.channels):
            layers += [nn.Conv2d(c_in, c, 3, padding=1, bias=False), nn.BatchNorm2d(c),
                       nn.ReLU(inplace=True)]
            if i < len(cfg.channels) - 1:
                layers.append(nn.MaxPool2d(2))
            c_in = c
        self.features = nn.Sequential(*layers)
        self.dropout = nn.Dropout(cfg.dropout)
        self.head = nn.Linear(c_in, cfg.n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, 1, n_bins, n_frames) float32, per-input standardised log power (dB); row k is
        k * fs_hz / n_fft Hz, columns are ``hop / fs_hz`` seconds apart. Either memory format.

        Returns logits (B, n_classes).
        """
        h = self.features(x)  # (B, C, n_bins / 2**(n-1), n_frames / 2**(n-1))
        h = h.mean(dim=(-2, -1))  # global average pool -> (B, C)
        return self.head(self.dropout(h))

    def last_conv(self) -> nn.Module:
        """The last convolution (for Grad-CAM)."""
        return [m for m in self.features if isinstance(m, nn.Conv2d)][-1]

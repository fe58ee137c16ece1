"""Defect-family 2-D CNN: the shared scorer convolves each family's (sideband x defect-order)
plane as an image, so a harmonic with its shaft sidebands is one 2-D shape (see
``models.family_head``)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from models.family_head import INPUT_SCALE, FamilyHead, HeadOptions, pooled_features


@dataclass
class Family2dConfig(HeadOptions):
    n_classes: int = 4
    n_families: int = 5
    n_rows: int = 6
    n_cells: int = 128
    cells_per_unit: int = 16
    channels: int = 8


class Family2d(nn.Module):
    """(B, F, R, L) defect-order inputs -> (B, 4) logits."""

    def __init__(self, cfg: Family2dConfig):
        super().__init__()
        if cfg.n_classes != 4:
            raise ValueError("the family head has exactly 4 classes")
        self.cfg = cfg
        c = cfg.channels
        self.conv1 = nn.Conv2d(1, c, (3, 5), padding=(1, 2))
        self.conv2 = nn.Conv2d(c, c, (3, 5), padding=(1, 2))
        self.rows = nn.Conv2d(c, c, (cfg.n_rows, 1))  # collapse the sideband axis
        self.score = nn.Linear(3 * c, 1)
        self.head = FamilyHead(cfg.n_cells, cfg.cells_per_unit, cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, F=5 families, R=6 rows, L cells) standardised envelope readings (x3) on
        defect-order axes. Returns logits (B, 4)."""
        b, f, r, length = x.shape
        z = (x * INPUT_SCALE).reshape(b * f, 1, r, length)
        h = F.relu(self.conv1(z))
        h = F.relu(self.conv2(h))
        h = F.relu(self.rows(h))[:, :, 0]  # (B*F, C, L)
        evidence = self.score(pooled_features(h, self.cfg.cells_per_unit))[:, 0].reshape(b, f)
        return self.head(x, evidence)

    def last_conv(self) -> nn.Module:
        """The last convolution (for Grad-CAM)."""
        return self.rows

"""Defect-family 1-D CNN: one shared scorer slides along each family's defect-order axis, with
the sideband and coincidence rows as its input channels (see ``models.family_head``)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from models.family_head import INPUT_SCALE, FamilyHead, HeadOptions, pooled_features


@dataclass
class Family1dConfig(HeadOptions):
    n_classes: int = 4  # normal, inner_race, outer_race, ball (fixed by the family head)
    n_families: int = 5
    n_rows: int = 6
    n_cells: int = 128
    cells_per_unit: int = 16
    channels: int = 8


class Family1d(nn.Module):
    """(B, F, R, L) defect-order inputs -> (B, 4) logits."""

    def __init__(self, cfg: Family1dConfig):
        super().__init__()
        if cfg.n_classes != 4:
            raise ValueError("the family head has exactly 4 classes")
        self.cfg = cfg
        c, k = cfg.channels, cfg.cells_per_unit
        self.conv1 = nn.Conv1d(cfg.n_rows, c, 5, padding=2)
        self.conv2 = nn.Conv1d(c, c, 5, padding=2)
        # Dilation = one harmonic spacing: this layer sees harmonics 1-4 of a comb at once.
        self.comb = nn.Conv1d(c, c, 4, dilation=k, padding=(3 * k) // 2)
        self.score = nn.Linear(3 * c, 1)
        self.head = FamilyHead(cfg.n_cells, cfg.cells_per_unit, cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, F=5 families, R=6 rows, L cells) standardised envelope readings (x3) on
        defect-order axes (cell j = (j+1)/cells_per_unit defect orders). Returns logits (B, 4)."""
        b, f, r, length = x.shape
        z = (x * INPUT_SCALE).reshape(b * f, r, length)  # families share the scorer
        h = F.relu(self.conv1(z))
        h = F.relu(self.conv2(h))
        h = F.relu(self.comb(h))[..., :length]  # (B*F, C, L)
        evidence = self.score(pooled_features(h, self.cfg.cells_per_unit))[:, 0].reshape(b, f)
        return self.head(x, evidence)

    def last_conv(self) -> nn.Module:
        """The last convolution (for Grad-CAM)."""
        return self.comb

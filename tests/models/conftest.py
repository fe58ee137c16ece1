"""Tiny models and inputs shared by the model tests (fast on 2 cores)."""

from __future__ import annotations

import numpy as np
import pytest

from models.cnn1d import CNN1d, CNN1dConfig
from models.cnn2d import CNN2d, CNN2dConfig

TINY_1D = CNN1dConfig(n_classes=3, n_bins=64, channels=(4, 8, 8), kernels=(5, 3, 3), dropout=0.0)
TINY_2D = CNN2dConfig(n_classes=3, n_bins=16, n_frames=16, channels=(4, 8, 8), dropout=0.0)


@pytest.fixture
def tiny1d() -> CNN1d:
    import torch

    torch.manual_seed(0)
    return CNN1d(TINY_1D).eval()


@pytest.fixture
def tiny2d() -> CNN2d:
    import torch

    torch.manual_seed(0)
    return CNN2d(TINY_2D).eval()


@pytest.fixture
def x1d() -> np.ndarray:
    return np.random.default_rng(0).standard_normal((6, 1, 64)).astype(np.float32)


@pytest.fixture
def x2d() -> np.ndarray:
    return np.random.default_rng(1).standard_normal((5, 1, 16, 16)).astype(np.float32)


@pytest.fixture(autouse=True)
def _one_thread():
    # Tiny models run faster on one thread, and far faster on a busy 2-core box.
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)

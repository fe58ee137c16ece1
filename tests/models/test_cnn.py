"""The CNNs: shapes, sizes, and that they can learn (overfit one small batch)."""

from __future__ import annotations

import pytest
import torch

from models.cnn1d import CNN1d, CNN1dConfig
from models.cnn2d import CNN2d, CNN2dConfig
from tests.models.conftest import TINY_1D, TINY_2D


def n_params(m: torch.nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def test_default_models_have_the_documented_shapes_and_size():
    m1, m2 = CNN1d(CNN1dConfig()).eval(), CNN2d(CNN2dConfig()).eval()
    with torch.inference_mode():
        assert m1(torch.randn(3, 1, 1600)).shape == (3, 4)
        assert m2(torch.randn(2, 1, 128, 128)).shape == (2, 4)
    assert 50_000 <= n_params(m1) <= 80_000
    assert 50_000 <= n_params(m2) <= 80_000


def test_2d_model_gives_the_same_logits_in_channels_last():
    torch.manual_seed(0)
    m = CNN2d(TINY_2D).eval()
    x = torch.randn(4, 1, 16, 16)
    with torch.inference_mode():
        ref = m(x)
        out = m.to(memory_format=torch.channels_last)(x.contiguous(
            memory_format=torch.channels_last))
    torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-5)


def test_global_pooling_accepts_other_input_lengths(tiny1d):
    with torch.inference_mode():
        assert tiny1d(torch.randn(2, 1, 200)).shape == (2, 3)


def test_mismatched_channels_and_kernels_are_rejected():
    with pytest.raises(ValueError, match="same length"):
        CNN1d(CNN1dConfig(channels=(4, 8), kernels=(3,)))


@pytest.mark.parametrize(("cfg", "shape"), [(TINY_1D, (12, 1, 64)), (TINY_2D, (12, 1, 16, 16))])
def test_model_overfits_one_small_batch(cfg, shape):
    torch.manual_seed(0)
    model = (CNN1d if len(shape) == 3 else CNN2d)(cfg).train()
    x = torch.randn(*shape)
    y = torch.arange(12) % cfg.n_classes
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(100):
        loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if loss.item() < 0.02:
            break
    assert loss.item() < 0.05
    assert (model.eval()(x).argmax(1) == y).all()


def test_last_conv_is_the_final_convolution(tiny1d, tiny2d):
    assert tiny1d.last_conv().out_channels == TINY_1D.channels[-1]
    assert tiny2d.last_conv().out_channels == TINY_2D.channels[-1]

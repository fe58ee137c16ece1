"""Attribution maps: shapes on the input axes, agreement with plain autograd, IG exactness."""

from __future__ import annotations

import numpy as np
import torch

from models import saliency


def test_input_gradient_matches_autograd(tiny1d, x1d):
    target = np.array([0, 1, 2, 0, 1, 2])
    got = saliency.input_gradient(tiny1d, x1d, target)
    x = torch.from_numpy(x1d).requires_grad_(True)
    tiny1d(x)[torch.arange(6), torch.from_numpy(target)].sum().backward()
    np.testing.assert_allclose(got, x.grad.abs().numpy(), rtol=1e-5, atol=1e-7)


def test_parameters_get_no_gradient(tiny2d, x2d):
    saliency.input_gradient(tiny2d, x2d, 1)
    saliency.integrated_gradients(tiny2d, x2d, 1, steps=4)
    assert all(p.grad is None for p in tiny2d.parameters())


def test_all_methods_return_the_input_shape(tiny1d, tiny2d, x1d, x2d):
    for model, x in ((tiny1d, x1d), (tiny2d, x2d)):
        t = np.zeros(len(x), np.int64)
        for a in (saliency.input_gradient(model, x, t),
                  saliency.smoothgrad(model, x, t, n_samples=3),
                  saliency.integrated_gradients(model, x, t, steps=5, max_batch=7)):
            assert a.shape == x.shape and a.dtype == np.float32 and (a >= 0).all()


def test_smoothgrad_is_seeded(tiny1d, x1d):
    a = saliency.smoothgrad(tiny1d, x1d, 2, n_samples=4, seed=3)
    b = saliency.smoothgrad(tiny1d, x1d, 2, n_samples=4, seed=3)
    np.testing.assert_array_equal(a, b)


def test_integrated_gradients_is_exact_for_a_linear_model():
    torch.manual_seed(0)
    lin = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(10, 3)).eval()
    x = np.random.default_rng(0).standard_normal((4, 1, 10)).astype(np.float32)
    ig = saliency.integrated_gradients(lin, x, np.array([0, 1, 2, 0]), steps=3)
    w = lin[1].weight.detach().numpy()[[0, 1, 2, 0]][:, None, :]
    np.testing.assert_allclose(ig, np.abs(x * w), rtol=1e-5, atol=1e-6)


def test_integrated_gradients_completeness(tiny1d, x1d):
    # Signed attributions sum to logit(x) - logit(baseline); we return |.|, so check a bound.
    ig = saliency.integrated_gradients(tiny1d, x1d[:1], 0, steps=64)
    with torch.no_grad():
        diff = (tiny1d(torch.from_numpy(x1d[:1])) - tiny1d(torch.zeros(1, 1, 64)))[0, 0]
    assert ig.sum() >= abs(float(diff)) * 0.95

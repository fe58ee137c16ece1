"""The envelope baseline: defect-order features and the numpy logistic regression."""

from __future__ import annotations

import numpy as np
import pytest

from pipelines.evaluation.baseline import (
    DEFECT_ORDERS,
    N_HARMONICS,
    LogisticRegression,
    feature_names,
    fit_baseline,
    order_peaks,
    window_features,
)

FS_HZ = 12_000.0
RPM = 1797.0


def impulse_train(order: float, n: int = 4096 * 4, seed: int = 0) -> np.ndarray:
    """Impacts at ``order`` x shaft speed, each ringing a 3.5 kHz resonance, plus noise."""
    rng = np.random.default_rng(seed)
    rate_hz = order * RPM / 60.0
    x = np.zeros(n)
    x[(np.arange(0, n / FS_HZ, 1.0 / rate_hz) * FS_HZ).astype(int)] = 1.0
    t = np.arange(int(0.004 * FS_HZ)) / FS_HZ
    ring = np.exp(-t / 0.0006) * np.sin(2 * np.pi * 3500.0 * t)
    return np.convolve(x, ring)[:n] + 0.05 * rng.standard_normal(n)


@pytest.mark.parametrize("name", ["BPFO", "BPFI", "BSF2"])
def test_features_peak_at_the_defect_order(name: str) -> None:
    frames = impulse_train(DEFECT_ORDERS[name]).reshape(4, 4096).astype(np.float32)
    feats = window_features(frames, FS_HZ, np.full(4, RPM))
    names = feature_names()
    first = [names.index(f"env_{o.lower()}_1x") for o in DEFECT_ORDERS if o != "SHAFT"]
    winners = {names[first[k]] for k in feats[:, first].argmax(axis=1)}
    assert winners == {f"env_{name.lower()}_1x"}
    assert feats[:, names.index(f"env_{name.lower()}_1x")].min() > 0.5  # > 3x the envelope median


def test_order_peaks_searches_within_tolerance() -> None:
    freqs = np.arange(0, 600, 1.0)
    amp = np.zeros((2, len(freqs)))
    amp[0, 103] = 5.0  # inside 100 Hz +- 3 %
    amp[0, 110] = 9.0  # outside
    amp[1, 200] = 2.0  # 2nd harmonic of 100 Hz
    peaks = order_peaks(freqs, amp, np.array([50.0, 50.0]), [2.0], n_harmonics=2)
    np.testing.assert_allclose(peaks, [[5.0, 0.0], [0.0, 2.0]])


def test_window_features_are_gain_invariant_except_level() -> None:
    frames = impulse_train(DEFECT_ORDERS["BPFO"]).reshape(4, 4096).astype(np.float32)
    a = window_features(frames, FS_HZ, np.full(4, RPM))
    b = window_features(frames * 9.81, FS_HZ, np.full(4, RPM))
    assert a.shape == (4, len(feature_names())) and np.isfinite(a).all()
    level = feature_names().index("log_rms")
    np.testing.assert_allclose(b[:, level] - a[:, level], np.log10(9.81), atol=1e-5)
    keep = np.arange(a.shape[1]) != level
    np.testing.assert_allclose(b[:, keep], a[:, keep], atol=1e-4)
    assert len(feature_names()) == len(DEFECT_ORDERS) * N_HARMONICS + 3 + 7


def blobs(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0.0], [6.0, 0.0], [0.0, 6.0], [6.0, 6.0]])
    y = rng.integers(0, 4, n)
    return centres[y] + rng.standard_normal((n, 2)) * 0.5, y


def test_logistic_regression_fits_a_separable_set() -> None:
    x, y = blobs(400, 0)
    x = (x - x.mean(0)) / x.std(0)
    lr = LogisticRegression(l2=1e-3).fit(x, y, 4)
    p = lr.predict_proba(x)
    np.testing.assert_allclose(p.sum(1), 1.0, atol=1e-9)
    assert (p.argmax(1) == y).mean() == 1.0


def test_logistic_regression_gradient_matches_finite_differences() -> None:
    x, y = blobs(50, 1)
    lr = LogisticRegression(l2=0.1)
    x1, y1h, sw = np.column_stack([x, np.ones(50)]), np.eye(4)[y], np.full(50, 1 / 50)
    w = np.random.default_rng(2).standard_normal(12) * 0.1
    _, grad = lr._loss(w, x1, y1h, sw)
    eps = 1e-6
    num = [(lr._loss(w + eps * e, x1, y1h, sw)[0] - lr._loss(w - eps * e, x1, y1h, sw)[0])
           / (2 * eps) for e in np.eye(12)]
    np.testing.assert_allclose(grad, num, rtol=1e-5, atol=1e-7)


def test_fit_baseline_picks_a_penalty_and_predicts() -> None:
    x, y = blobs(300, 3)
    xv, yv = blobs(100, 4)
    model = fit_baseline(x, y, xv, yv, FS_HZ, 4)
    assert model.model.l2 in (1e-4, 1e-3, 1e-2, 1e-1, 1.0)
    assert (model.predict_proba_features(xv).argmax(1) == yv).mean() > 0.95

"""Detection features: scale-free, channel-averaged, band set by the sample rate, cheap."""

from __future__ import annotations

import time

import numpy as np
import pytest

from pipelines.baselines.features import band_names, snapshot_features


def _noise(fs_hz: float = 25_600.0, n: int = 25_600, c: int = 3, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((c, n)).astype(np.float32)


def test_features_are_scale_free_and_finite():
    x = _noise()
    a, b = snapshot_features(x, 25_600.0), snapshot_features(x * 37.5, 25_600.0)
    assert a.keys() == b.keys()
    for k in a:
        assert np.isfinite(a[k])
        assert a[k] == pytest.approx(b[k], abs=1e-4), k


def test_gaussian_noise_reference_values():
    f = snapshot_features(_noise(n=256_000), 25_600.0)
    assert f["log_kurtosis"] == pytest.approx(np.log(3.0), abs=0.02)
    assert f["log1p_sk_max"] < 0.2  # SK is ~0 for stationary Gaussian noise
    shares = np.exp([v for k, v in f.items() if k.startswith("log_share")])
    assert shares.sum() == pytest.approx(1.0, abs=0.02)  # the bands tile 10 Hz .. Nyquist


def test_impacts_raise_kurtosis_and_spectral_kurtosis():
    fs = 25_600.0
    x = _noise(fs, 25_600, 1)
    t = np.arange(256) / fs
    ring = (8 * np.exp(-t * 800) * np.sin(2 * np.pi * 3_000 * t)).astype(np.float32)
    y = x.copy()
    for s in range(0, 25_600 - 256, 256 * 4):  # 25 impacts per second ringing at 3 kHz
        y[0, s:s + 256] += ring
    fx, fy = snapshot_features(x, fs), snapshot_features(y, fs)
    assert fy["log_kurtosis"] > fx["log_kurtosis"] + 0.3
    assert fy["log1p_sk_2000_4000hz"] > fx["log1p_sk_2000_4000hz"] + 0.5


@pytest.mark.parametrize(("fs", "top"), [(12_000.0, "log_share_4000hz_up"),
                                         (20_000.0, "log_share_8000hz_up"),
                                         (97_656.0, "log_share_16000hz_up")])
def test_bands_stop_below_nyquist(fs, top):
    names = [n for n, _, hi in band_names(fs)]
    assert names[-1] == top
    assert all(hi <= fs / 2 for _, _, hi in band_names(fs))


def test_cost_for_three_channels_of_256k_samples():
    x = _noise(n=256_000)
    snapshot_features(x, 25_600.0)
    t0 = time.perf_counter()
    for _ in range(3):
        snapshot_features(x, 25_600.0)
    assert (time.perf_counter() - t0) / 3 < 0.25  # generous: shared 2-core machines

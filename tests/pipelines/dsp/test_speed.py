"""Shaft speed from the spectrum's harmonic comb."""

from __future__ import annotations

import numpy as np
import pytest

from pipelines.dsp.speed import shaft_speed_comb


def shaft_signal(fs_hz: float, shaft_hz: float, seconds: float = 2.0, noise: float = 0.5):
    t = np.arange(int(fs_hz * seconds)) / fs_hz
    rng = np.random.default_rng(0)
    x = sum(np.sin(2 * np.pi * k * shaft_hz * t + k) / k for k in range(1, 7))
    return (x + rng.normal(0, noise, t.size)).astype(np.float32)[None]


@pytest.mark.parametrize(("fs_hz", "shaft_hz"), [(12_000.0, 29.95), (25_600.0, 13.3),
                                                 (51_200.0, 41.0)])
def test_the_comb_finds_the_shaft_within_a_fraction_of_a_bin(fs_hz, shaft_hz):
    est, conf = shaft_speed_comb(shaft_signal(fs_hz, shaft_hz), fs_hz, 0.9 * shaft_hz,
                                 1.1 * shaft_hz)
    assert est == pytest.approx(shaft_hz, abs=0.5)
    assert conf > 6.0


def test_noise_alone_gives_low_confidence_and_bad_ranges_are_refused():
    x = np.random.default_rng(1).normal(0, 1, (1, 24_000)).astype(np.float32)
    _, conf = shaft_speed_comb(x, 12_000.0, 20.0, 40.0)
    assert conf < 6.0
    with pytest.raises(ValueError):
        shaft_speed_comb(x, 12_000.0, 40.0, 20.0)

"""The experimental envelope-input CNN: inputs on the envelope's grid, a quick seeded fit."""

from __future__ import annotations

import numpy as np
import pytest

from pipelines.learning.datasets import Recording
from pipelines.learning.envelope_model import ENVELOPE_SPEC, envelope_inputs, train_envelope_model

FS_HZ = 12_000.0


def _recording(label: str, defect_hz: float | None, seed: int) -> Recording:
    rng = np.random.default_rng(seed)
    n = int(4.0 * FS_HZ)
    x = 0.1 * rng.standard_normal(n)
    if defect_hz:  # impacts ringing a 3.5 kHz resonance
        t = np.arange(int(0.004 * FS_HZ)) / FS_HZ
        ring = np.exp(-t / 0.0006) * np.sin(2 * np.pi * 3500.0 * t)
        impulses = np.zeros(n)
        impulses[(np.arange(0, n / FS_HZ, 1 / defect_hz) * FS_HZ).astype(int)] = 1.0
        x += np.convolve(impulses, ring)[:n]
    return Recording(recording_id=f"{label}-{seed}", file="synthetic", label=label,
                     fault_size_in=0.007, load_hp=0, rpm=1750.0, fs_hz=FS_HZ, rig="synthetic",
                     signal=x.astype(np.float32))


def test_envelope_inputs_are_standardised_and_show_the_defect_rate():
    rec = _recording("outer_race", 105.0, seed=0)
    x = envelope_inputs(rec)
    assert x.shape == (ENVELOPE_SPEC.max_windows, 1, ENVELOPE_SPEC.n_bins)
    np.testing.assert_allclose(x[:, 0].mean(axis=1), 0.0, atol=1e-4)
    np.testing.assert_allclose(x[:, 0].std(axis=1, ddof=1), 1.0, atol=1e-4)
    peak_hz = ENVELOPE_SPEC.freqs_hz[5 + x[:, 0, 5:].mean(axis=0).argmax()]
    assert peak_hz == pytest.approx(105.0, rel=0.05) or peak_hz == pytest.approx(210.0, rel=0.05)
    assert len(envelope_inputs(rec, stride_s=0.1)) > ENVELOPE_SPEC.max_windows


def test_a_quick_fit_returns_a_classifier_on_the_envelope_spec():
    recs = [_recording("normal", None, 1), _recording("outer_race", 105.0, 2),
            _recording("inner_race", 158.0, 3), _recording("ball", 137.0, 4)]
    clf = train_envelope_model(recs, steps=3, seed=0)
    assert clf.name == "cnn1d-envelope (experimental)" and clf.architecture == "cnn1d"
    proba = clf.predict_proba(envelope_inputs(recs[1]))
    assert proba.shape == (ENVELOPE_SPEC.max_windows, 4)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)

"""Model inputs in physical units: the spec's grid, standardisation and input shapes."""

from __future__ import annotations

import numpy as np
import pytest

from pipelines.features.inputs import log_spectrum, model_inputs, standardise
from pipelines.features.spec import SPECTROGRAM_SPEC, SPECTRUM_SPEC, InputSpec
from pipelines.features.windows import window_starts


def _tone(fs_hz: float, f_hz: float, seconds: float = 2.0) -> np.ndarray:
    t = np.arange(int(fs_hz * seconds)) / fs_hz
    return np.sin(2 * np.pi * f_hz * t).astype(np.float32)[None]


def test_spec_grid_is_in_hertz_and_round_trips_through_a_dict():
    assert SPECTRUM_SPEC.freqs_hz[1] == pytest.approx(12_000 / 4096)
    assert SPECTRUM_SPEC.max_freq_hz == pytest.approx(1599 * 12_000 / 4096)
    assert SPECTROGRAM_SPEC.window_len == 256 + 128 * 127
    assert SPECTROGRAM_SPEC.input_shape == (1, 128, 128)
    assert InputSpec.from_dict({**SPECTROGRAM_SPEC.to_dict(), "unknown": 1}) == SPECTROGRAM_SPEC


def test_standardise_gives_zero_mean_unit_std_per_input():
    z = np.random.default_rng(0).normal(5.0, 3.0, (4, 64)).astype(np.float32)
    s = standardise(z, (1,))
    np.testing.assert_allclose(s.mean(axis=1), 0.0, atol=1e-5)
    np.testing.assert_allclose(s.std(axis=1, ddof=1), 1.0, atol=1e-5)
    assert np.isfinite(standardise(np.ones((2, 8), np.float32), (1,))).all()  # constant input


def test_a_tone_peaks_in_its_bin_whatever_the_native_rate():
    for fs_hz in (12_000.0, 25_600.0, 48_000.0):
        inputs, ch = model_inputs(_tone(fs_hz, 1000.0), fs_hz, SPECTRUM_SPEC)
        assert inputs.shape[1:] == SPECTRUM_SPEC.input_shape and (ch == 0).all()
        peak_hz = SPECTRUM_SPEC.freqs_hz[inputs[:, 0].mean(axis=0).argmax()]
        assert peak_hz == pytest.approx(1000.0, abs=SPECTRUM_SPEC.freqs_hz[1])


def test_spectrogram_inputs_have_the_specs_shape():
    inputs, ch = model_inputs(np.vstack([_tone(12_000.0, 500.0)] * 2), 12_000.0, SPECTROGRAM_SPEC)
    assert inputs.shape[1:] == (1, 128, 128) and set(ch) == {0, 1}


def test_too_low_a_rate_or_too_short_a_record_is_a_value_error():
    with pytest.raises(ValueError, match="too low"):
        model_inputs(_tone(8_000.0, 100.0), 8_000.0, SPECTRUM_SPEC)
    with pytest.raises(ValueError, match="too short"):
        model_inputs(_tone(12_000.0, 100.0, seconds=0.1), 12_000.0, SPECTRUM_SPEC, stride=512)


def test_window_starts_strided_or_spread():
    np.testing.assert_array_equal(window_starts(10, 4, stride=3), [0, 3, 6])
    np.testing.assert_array_equal(window_starts(100, 10, max_windows=3), [0, 45, 90])
    assert window_starts(3, 4).size == 0
    frames = np.random.default_rng(1).standard_normal((3, 4096)).astype(np.float32)
    assert log_spectrum(frames, SPECTRUM_SPEC).shape == (3, 1, 1600)

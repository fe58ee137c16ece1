"""The DSP layer against closed-form values and independent plain-numpy/scipy computations."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal

from pipelines.dsp.envelope import envelope_spectrum, spectral_kurtosis_band
from pipelines.dsp.indicators import condition_indicators
from pipelines.dsp.spectra import (
    display_spectrum,
    downsample_spectrogram,
    estimate_shaft_hz,
    log_spectrogram,
    pool_max,
)

FS_HZ = 25_600.0
N = 256_000  # 10 s: every integer frequency falls on a bin
G = 9.80665


def tone(f_hz: float, amp: float = 1.0, n: int = N, fs_hz: float = FS_HZ, phase: float = 0.3):
    t = np.arange(n) / fs_hz
    return (amp * np.sin(2 * np.pi * f_hz * t + phase)).astype(np.float32)


def impacts(rate_hz: float, resonance_hz: float, n: int = N, fs_hz: float = FS_HZ, seed: int = 0):
    """Decaying resonance rung at ``rate_hz`` in light noise: a bearing-defect caricature."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / fs_hz
    ring = np.exp(-t[:400] * 2_000.0) * np.sin(2 * np.pi * resonance_hz * t[:400])
    pulses = np.zeros(n)
    pulses[(np.arange(0, t[-1], 1.0 / rate_hz) * fs_hz).astype(int)] = 1.0
    x = np.convolve(pulses, ring)[:n] + 0.05 * rng.standard_normal(n)
    return x.astype(np.float32)


# --- condition indicators ---------------------------------------------------------------

@pytest.mark.parametrize("f_hz", [25.0, 100.0, 700.0])
def test_velocity_rms_of_a_sine_is_a_over_2_pi_f_sqrt2(f_hz):
    a_g = 0.5
    ind = condition_indicators(tone(f_hz, a_g)[None] + 0.2, FS_HZ, G)  # offset must not matter
    expected_mm_s = a_g * G / (2 * np.pi * f_hz) / np.sqrt(2) * 1e3
    assert ind["rms_velocity_mm_s"][0] == pytest.approx(expected_mm_s, rel=1e-3)
    assert ind["rms_accel_m_s2"][0] == pytest.approx(a_g * G / np.sqrt(2), rel=1e-4)
    assert ind["peak_accel_m_s2"][0] == pytest.approx(a_g * G, rel=1e-3)
    assert ind["crest_factor"][0] == pytest.approx(np.sqrt(2), rel=1e-3)
    assert ind["kurtosis"][0] == pytest.approx(1.5, rel=1e-3)  # a sine's Pearson kurtosis


@pytest.mark.parametrize("f_hz", [3.0, 2_500.0])
def test_velocity_rms_ignores_tones_outside_10_to_1000_hz(f_hz):
    ind = condition_indicators(tone(f_hz, 1.0)[None], FS_HZ, 1.0)
    assert ind["rms_velocity_mm_s"][0] < 1e-3 * (1.0 / (2 * np.pi * 10) / np.sqrt(2) * 1e3)


def test_unit_scaling_is_linear_and_channels_are_independent():
    x = np.stack([tone(50.0, 1.0), tone(200.0, 2.0)])
    in_g, in_si = condition_indicators(x, FS_HZ, G), condition_indicators(x, FS_HZ, 1.0)
    for key in ("rms_accel_m_s2", "rms_velocity_mm_s", "peak_accel_m_s2"):
        np.testing.assert_allclose(in_g[key], in_si[key] * G, rtol=1e-6)
    one = condition_indicators(x[1:], FS_HZ, G)
    for key, value in one.items():
        np.testing.assert_allclose(in_g[key][1:], value, rtol=1e-6)


def test_kurtosis_gaussian_is_3_and_impacts_much_more():
    rng = np.random.default_rng(0)
    gauss = rng.standard_normal((2, N)).astype(np.float32)
    k = condition_indicators(gauss, FS_HZ, G)["kurtosis"]
    np.testing.assert_allclose(k, 3.0, atol=0.05)
    assert condition_indicators(impacts(100.0, 4_000.0)[None], FS_HZ, G)["kurtosis"][0] > 10


def test_constant_channel_gives_finite_values():
    ind = condition_indicators(np.ones((1, 4096), np.float32), FS_HZ, G)
    assert all(np.isfinite(v).all() for v in ind.values())
    assert ind["rms_accel_m_s2"][0] == 0 and ind["crest_factor"][0] == 0


# --- spectra ----------------------------------------------------------------------------

def test_display_spectrum_equals_scipy_welch_and_keeps_peaks():
    rng = np.random.default_rng(1)
    x = np.stack([tone(1_234.0, 0.7), tone(300.0, 2.0)]) + 0.01 * rng.standard_normal((2, N))
    x = x.astype(np.float32)
    f_full, amp_full = display_spectrum(x, FS_HZ, n_points=10**9)
    f_ref, p_ref = scipy.signal.welch(x, FS_HZ, "hann", nperseg=8192, scaling="spectrum", axis=-1)
    np.testing.assert_allclose(f_full, f_ref)
    np.testing.assert_allclose(amp_full, np.sqrt(2 * p_ref), rtol=1e-3, atol=1e-7)
    f, amp = display_spectrum(x, FS_HZ, n_points=512, fmax_hz=5_000.0)
    assert f.shape == (512,) and amp.shape == (2, 512) and f[-1] <= 5_000.0
    k0, k1 = np.argmax(amp[0]), np.argmax(amp[1])
    assert f[k0] == pytest.approx(1_234.0, abs=FS_HZ / 8192)
    assert f[k1] == pytest.approx(300.0, abs=FS_HZ / 8192)
    # Peak amplitude in the signal's unit, within the Hann window's scalloping loss (1.42 dB).
    assert 0.7 * 0.84 < amp[0, k0] <= 0.7 * 1.001 and 2.0 * 0.84 < amp[1, k1] <= 2.0 * 1.001


def test_pool_max_keeps_maxima_and_their_frequencies():
    rng = np.random.default_rng(2)
    amp = rng.random((3, 1001))
    freqs = np.arange(1001) * 0.5
    f, pooled = pool_max(freqs, amp, 37)
    edges = np.linspace(0, 1001, 38).astype(int)
    for g in range(37):
        np.testing.assert_array_equal(pooled[:, g], amp[:, edges[g] : edges[g + 1]].max(axis=1))
        k = edges[g] + np.argmax(amp[:, edges[g] : edges[g + 1]].sum(axis=0))
        assert f[g] == freqs[k]


def numpy_log_spectrogram(x: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """Independent reference: strided frames, periodic Hann, np.fft.rfft in float64."""
    windows = np.lib.stride_tricks.sliding_window_view(x.astype(np.float64), n_fft, axis=-1)
    frames = windows[..., ::hop, :]
    win = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)
    power = np.abs(np.fft.rfft(frames * win, axis=-1)) ** 2
    return np.swapaxes(10 * np.log10(power + 1e-20), -1, -2)  # (C, F, T)


@pytest.mark.parametrize(("n_fft", "hop"), [(1024, 256), (256, 100)])
def test_log_spectrogram_matches_plain_numpy(n_fft, hop):
    rng = np.random.default_rng(3)
    tones = np.stack([tone(f, 3.0, 20_000) for f in (50, 500, 5000)])
    x = (rng.standard_normal((3, 20_000)) + tones).astype(np.float32)
    times, freqs, db = log_spectrogram(x, FS_HZ, n_fft=n_fft, hop=hop)
    ref = numpy_log_spectrogram(x, n_fft, hop)
    assert db.dtype == np.float32 and db.shape == ref.shape == (3, n_fft // 2 + 1, len(times))
    np.testing.assert_allclose(freqs, np.fft.rfftfreq(n_fft, 1 / FS_HZ))
    np.testing.assert_allclose(times, (np.arange(len(times)) * hop + n_fft / 2) / FS_HZ)
    strong = ref > ref.max() - 60  # float32 rounding shows ~80 dB below the peak
    np.testing.assert_allclose(db[strong], ref[strong], atol=2e-3)


def test_log_spectrogram_one_by_one_equals_batched():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 30_000)).astype(np.float32)
    _, _, batched = log_spectrogram(x, FS_HZ)
    for c in range(3):
        _, _, single = log_spectrogram(x[c], FS_HZ)
        np.testing.assert_allclose(single[0], batched[c], atol=1e-4)


def test_downsample_spectrogram_max_pools():
    db = np.arange(2 * 10 * 7, dtype=np.float32).reshape(2, 10, 7)
    small = downsample_spectrogram(db, max_f=4, max_t=3)
    assert small.shape == (2, 4, 3)
    assert small[1, 0, 0] == db[1, :3, :3].max() and small[0, -1, -1] == db[0, 9, 6]


# --- envelope, spectral kurtosis, shaft speed -------------------------------------------

def test_envelope_spectrum_of_am_carrier_peaks_at_modulation_frequency():
    t = np.arange(N) / FS_HZ
    m = 0.5
    x = (1 + m * np.cos(2 * np.pi * 87.0 * t)) * np.sin(2 * np.pi * 4_000.0 * t)
    x = x.astype(np.float32)
    f, amp = envelope_spectrum(np.stack([x, 2 * x]), FS_HZ, (3_000.0, 5_000.0), fmax_hz=1_000.0)
    k = np.argmax(amp[0])
    assert f[k] == pytest.approx(87.0, abs=FS_HZ / N)
    assert amp[0, k] == pytest.approx(m, rel=0.02)  # the envelope's own sinusoid amplitude
    np.testing.assert_allclose(amp[1], 2 * amp[0], rtol=1e-4, atol=1e-6)
    f_small, amp_small = envelope_spectrum(x, FS_HZ, (3_000.0, 5_000.0), n_points=256)
    assert amp_small.shape == (1, 256)
    assert f_small[np.argmax(amp_small[0])] == pytest.approx(87.0, abs=0.2)


def test_kurtogram_finds_the_resonance_and_envelope_the_impact_rate():
    x = impacts(143.0, 6_000.0)
    rng = np.random.default_rng(5)
    noise = rng.standard_normal(N).astype(np.float32)
    x = x + np.float32(0.5) * tone(1_000.0) + np.float32(0.2) * noise
    lo, hi = spectral_kurtosis_band(x, FS_HZ)
    assert lo < 6_000.0 < hi and hi - lo <= 2_000.0
    f, amp = envelope_spectrum(x, FS_HZ, (lo, hi), fmax_hz=500.0)
    above = f > 50.0  # the strongest envelope line above the near-DC region
    assert f[above][np.argmax(amp[0, above])] == pytest.approx(143.0, abs=0.5)


def test_estimate_shaft_hz_finds_the_dominant_line_in_range():
    rng = np.random.default_rng(6)
    x = tone(29.95, 1.0) + tone(120.0, 5.0) + 0.3 * rng.standard_normal(N).astype(np.float32)
    assert estimate_shaft_hz(x, FS_HZ, 20.0, 40.0) == pytest.approx(29.95, abs=0.02)
    assert estimate_shaft_hz(x, FS_HZ, 100.0, 140.0) == pytest.approx(120.0, abs=0.02)
    with pytest.raises(ValueError, match="too few bins"):
        estimate_shaft_hz(x[:1000], FS_HZ, 20.0, 40.0)

"""The drivetrain simulator is physically sound: defect lines where kinematics puts them,
impulsive faults, healthy Gaussian-like records, deterministic seeds, a rising fleet series."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
import scipy.signal
import scipy.stats

from simulation.drivetrain import DrivetrainConfig, demo_fleet, fleet_snapshots, simulate_snapshot

FS_HZ = 25_600.0
CFG = DrivetrainConfig()


def envelope_spectrum(x: np.ndarray, fs_hz: float, band_hz=(2_500.0, 5_500.0)):
    """Independent of the product: Butterworth band-pass around the resonance, Hilbert, FFT."""
    sos = scipy.signal.butter(4, band_hz, btype="bandpass", fs=fs_hz, output="sos")
    env = np.abs(scipy.signal.hilbert(scipy.signal.sosfiltfilt(sos, x.astype(np.float64))))
    env -= env.mean()
    amp = np.abs(np.fft.rfft(env * np.hanning(env.size)))
    return np.fft.rfftfreq(env.size, 1.0 / fs_hz), amp


def line_near(freqs_hz, amp, target_hz, rel=0.2):
    """(frequency of the highest peak within +-rel of target, its prominence over the median)."""
    win = (freqs_hz > target_hz * (1 - rel)) & (freqs_hz < target_hz * (1 + rel))
    k = int(np.argmax(amp[win]))
    return float(freqs_hz[win][k]), float(amp[win][k] / np.median(amp[win]))


@pytest.mark.parametrize(("fault", "key"), [("outer_race", "BPFO"), ("inner_race", "BPFI")])
@pytest.mark.parametrize("rpm", [1200.0, 1650.0])
def test_defect_rate_shows_in_envelope_spectrum(fault, key, rpm):
    x, meta = simulate_snapshot(CFG, fault, 0.5, fs_hz=FS_HZ, rpm=rpm, seed=3)
    expected_hz = meta["defect_freqs_hz"][key]
    assert expected_hz == pytest.approx(CFG.defect_orders()[key] * rpm / 60, rel=0.03)
    f, amp = envelope_spectrum(x[0], FS_HZ)
    peak_hz, prominence = line_near(f, amp, expected_hz)
    assert peak_hz == pytest.approx(expected_hz, rel=0.02)
    assert prominence > 10
    if fault == "outer_race":  # the strongest envelope line of all between 50 and 500 Hz
        band = (f > 50) & (f < 500)
        assert f[band][np.argmax(amp[band])] == pytest.approx(expected_hz, rel=0.02)


def test_healthy_record_has_no_defect_line():
    x, meta = simulate_snapshot(CFG, "normal", 0.0, seed=3)
    f, amp = envelope_spectrum(x[0], FS_HZ)
    for key in ("BPFO", "BPFI"):
        assert line_near(f, amp, meta["defect_freqs_hz"][key], rel=0.02)[1] < 6


def test_kinematics_match_standard_formulas():
    # CWRU drive-end SKF 6205: 9 balls, d = 7.94 mm, D = 39.04 mm (CWRU Bearing Data Center: 3.5848 / 5.4152).
    skf6205 = DrivetrainConfig(n_elements=9, ball_diameter_mm=7.94, pitch_diameter_mm=39.04)
    orders = skf6205.defect_orders()
    assert orders["BPFO"] == pytest.approx(3.5848, rel=2e-3)
    assert orders["BPFI"] == pytest.approx(5.4152, rel=2e-3)
    assert orders["FTF"] == pytest.approx(0.3983, rel=2e-3)
    assert 2 * orders["BSF"] == pytest.approx(4.7135, rel=2e-3)


def test_kurtosis_gaussian_when_healthy_impulsive_when_faulty():
    healthy, _ = simulate_snapshot(CFG, "normal", 0.0, seed=1)
    k = scipy.stats.kurtosis(healthy, axis=1, fisher=False)
    assert np.all(np.abs(k - 3.0) < 0.3), k
    for fault in ("outer_race", "inner_race", "ball"):
        mild, _ = simulate_snapshot(CFG, fault, 0.1, seed=1)
        severe, _ = simulate_snapshot(CFG, fault, 1.0, seed=1)
        k_mild = scipy.stats.kurtosis(mild, axis=1, fisher=False)
        k_severe = scipy.stats.kurtosis(severe, axis=1, fisher=False)
        assert np.all(k_severe > 5), (fault, k_severe)
        assert np.all(k_severe > k_mild), (fault, k_mild, k_severe)


def test_amplitudes_are_realistic():
    x, meta = simulate_snapshot(CFG, "normal", 0.0, seed=2)
    rms_g = np.sqrt(np.mean(x.astype(np.float64) ** 2, axis=1))
    assert np.all((rms_g > 0.1) & (rms_g < 1.0)), rms_g
    assert abs(x.mean()) < 0.01
    assert meta["rpm"] == pytest.approx(CFG.rated_rpm, rel=0.02)
    assert meta["gear_mesh_hz"] == pytest.approx(CFG.pinion_teeth * meta["shaft_hz"])


def test_shapes_dtypes_and_determinism():
    kw = {"fs_hz": 12_800, "duration_s": 2, "n_channels": 4}
    a, meta_a = simulate_snapshot(CFG, "ball", 0.4, **kw, seed=7)
    b, meta_b = simulate_snapshot(CFG, "ball", 0.4, **kw, seed=np.random.default_rng(7))
    c, _ = simulate_snapshot(CFG, "ball", 0.4, **kw, seed=8)
    assert a.shape == (4, 25_600) and a.dtype == np.float32 and a.flags.c_contiguous
    assert np.array_equal(a, b) and meta_a == meta_b
    assert not np.array_equal(a, c)
    assert meta_a["channel_names"] == ["x", "y", "z", "ch3"] and meta_a["fs_hz"] == 12_800
    assert len(meta_a["resonance_hz"]) == 4
    assert np.all(np.isfinite(a))


def test_channels_are_distinct_transfer_paths():
    x, meta = simulate_snapshot(CFG, "outer_race", 0.5, n_channels=3, seed=0)
    assert len(set(np.round(meta["resonance_hz"], 3))) == 3
    corr = np.corrcoef(x.astype(np.float64))
    assert np.all(corr[np.triu_indices(3, 1)] < 0.99)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"fault": "gear_tooth", "severity": 0.5}, "unknown fault"),
    ({"fault": "ball", "severity": 1.5}, "severity"),
    ({"fault": "normal", "severity": 0.0, "duration_s": 0.0}, "at least 2 samples"),
])
def test_bad_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        simulate_snapshot(CFG, **kwargs)


def test_demo_fleet_ids_sites_and_faults():
    fleet = demo_fleet(8, seed=0)
    assert [t.turbine_id for t in fleet] == [f"WT-{i:03d}" for i in range(1, 9)]
    assert {t.site for t in fleet} == {"Nordre Banke", "Hedeby Ridge"}
    faulty = [t for t in fleet if t.fault != "normal"]
    assert sorted(t.fault for t in faulty) == ["ball", "inner_race", "outer_race"]
    assert demo_fleet(8, seed=0) == fleet and demo_fleet(8, seed=1) != fleet
    assert len({t.drivetrain.path_seed for t in fleet}) == 8
    assert len(demo_fleet(12, seed=0)) == 12


def test_fleet_series_cadence_and_rising_severity():
    fleet = demo_fleet(4, seed=5)
    start = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
    snaps = list(fleet_snapshots(fleet, 4, start, fs_hz=12_800, duration_s=1.0))
    assert len(snaps) == 16
    ticks = [start + timedelta(minutes=10 * i) for i in range(4)]
    assert [s.recorded_at for s in snaps[::4]] == ticks
    for spec in fleet:
        series = [s for s in snaps if s.turbine_id == spec.turbine_id]
        sev = [s.severity for s in series]
        if spec.fault == "normal":
            assert sev == [0.0] * 4
        else:
            assert sev == sorted(sev) and sev[0] < sev[-1]
            assert series[-1].fault == spec.fault
        assert all(0.7 * 1500 < s.rpm < 1.02 * 1500 for s in series)
        assert all(s.x.shape == (3, 12_800) and s.x.dtype == np.float32 for s in series)
    # Deterministic per (turbine, index): a shorter run reproduces the first tick exactly.
    again = list(fleet_snapshots(fleet, 1, start, fs_hz=12_800, duration_s=1.0))
    assert all(np.array_equal(a.x, b.x) for a, b in zip(again, snaps[:4], strict=True))


def test_fleet_refuses_naive_start():
    with pytest.raises(ValueError, match="timezone"):
        next(fleet_snapshots(demo_fleet(1), 1, datetime(2026, 1, 1)))


def test_live_snapshots_differ_over_time_and_replay_exactly():
    fleet = demo_fleet(1, seed=0)
    t0 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
    kw = {"fs_hz": 12_800, "duration_s": 0.5}
    a = next(fleet_snapshots(fleet, 1, t0, **kw))
    b = next(fleet_snapshots(fleet, 1, t0 + timedelta(minutes=1), **kw))
    again = next(fleet_snapshots(fleet, 1, t0, **kw))
    assert not np.array_equal(a.x, b.x) and np.array_equal(a.x, again.x)

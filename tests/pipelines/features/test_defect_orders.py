"""Defect-order inputs: a defect's comb lands on the same cells whatever the bearing, speed and
sample rate; healthy noise reads like its probes; shapes, NaN-free, bounded cost paths."""

from __future__ import annotations

import numpy as np
import pytest

from pipelines.dsp.kinematics import BEARINGS, BearingGeometry
from pipelines.features.defect_orders import (
    CENTRE_ROW,
    FAMILIES,
    N_ROWS,
    PROBE_ORDERS,
    defect_order_inputs,
    family_prominence,
    prominence_db,
    running_median,
)
from pipelines.features.spec import DEFECT_ORDER_SPEC, InputSpec

SPEC = DEFECT_ORDER_SPEC


def impacts(fs_hz: float, seconds: float, rate_hz: float, resonance_hz: float,
            seed: int = 0, snr: float = 3.0) -> np.ndarray:
    """Decaying resonance rung at ``rate_hz`` (a bearing defect) in white noise."""
    rng = np.random.default_rng(seed)
    n = int(fs_hz * seconds)
    x = np.zeros(n)
    x[(np.arange(0, seconds, 1.0 / rate_hz) * fs_hz).astype(int)] = snr
    t = np.arange(int(0.01 * fs_hz)) / fs_hz
    ring = np.exp(-2 * np.pi * 0.05 * resonance_hz * t) * np.sin(2 * np.pi * resonance_hz * t)
    return (np.convolve(x, ring)[:n] + rng.normal(0, 0.5, n)).astype(np.float32)[None]


@pytest.mark.parametrize(("bearing", "family", "fs_hz", "rpm"), [
    ("SKF 6205-2RS", "BPFO", 12_000.0, 1750.0),
    ("SKF 6309", "BPFI", 25_600.0, 1500.0),
    ("FAG NU2244-E", "BPFO", 51_200.0, 900.0),
])
def test_a_defect_comb_stands_out_in_its_family_whatever_the_machine(bearing, family, fs_hz, rpm):
    orders = BEARINGS[bearing].geometry.defect_orders()
    shaft_hz = rpm / 60.0
    x = impacts(fs_hz, 1.0, orders[family] * shaft_hz, 0.3 * fs_hz)
    inputs, ch, info = defect_order_inputs(x, fs_hz, SPEC, shaft_hz, orders)
    assert inputs.shape == (1, len(FAMILIES), N_ROWS, SPEC.n_cells) and (ch == 0).all()
    assert np.isfinite(inputs).all()
    prom = dict(zip(FAMILIES, family_prominence(inputs)[0], strict=True))
    assert prom[family] > 3.0, prom  # units of 6 dB above the envelope floor: > 18 dB
    assert prom[family] == max(prom[f] for f in ("BPFO", "BPFI", "BSF"))
    # Harmonic 1 sits at cell cells_per_unit - 1 of the family's centre row.
    plane = inputs[0, FAMILIES.index(family), CENTRE_ROW]
    k = SPEC.cells_per_unit
    assert plane[k - 2 : k + 1].max() > np.median(plane) + 6.0
    assert info["band_hz"][0] < 0.3 * fs_hz < info["band_hz"][1]


def test_healthy_noise_reads_like_its_probes():
    orders = BearingGeometry(9, 7.9, 39.0).defect_orders()
    x = np.random.default_rng(1).normal(0, 1, (3, 25_600)).astype(np.float32)
    inputs, ch, _ = defect_order_inputs(x, 25_600.0, SPEC, 25.0, orders)
    assert inputs.shape[0] == 3 and list(ch) == [0, 1, 2]
    prom = family_prominence(inputs)
    # No family stands above its probes; the cage family (orders < 1, fewer bins per cell
    # than the probes) reads below them, which never suggests a fault.
    assert prom[:, :4].max() < 2.0
    assert np.abs(prom[:, 1:4]).max() < 2.0


def test_short_records_use_the_whole_record_and_long_ones_spread_windows():
    orders = BEARINGS["SKF 6205-2RS"].geometry.defect_orders()
    short = np.random.default_rng(2).normal(0, 1, (1, 7000)).astype(np.float32)
    _, _, info = defect_order_inputs(short, 12_000.0, SPEC, 29.0, orders)
    assert info["n_windows"] == 1 and info["window_s"] == pytest.approx(7000 / 12_000)
    long = np.random.default_rng(3).normal(0, 1, (2, 10 * 12_000)).astype(np.float32)
    x, ch, info = defect_order_inputs(long, 12_000.0, SPEC, 29.0, orders)
    assert info["n_windows"] == SPEC.max_windows and len(x) == 2 * SPEC.max_windows
    strided, _, _ = defect_order_inputs(long, 12_000.0, SPEC, 29.0, orders, stride_s=0.5)
    assert len(strided) == 2 * 19


def test_spec_describes_the_axes_and_round_trips():
    assert SPEC.input_shape == (5, 6, 128)
    assert SPEC.min_samples(25_600.0) == 12_800 and SPEC.window_s == 1.0
    assert InputSpec.from_dict(SPEC.to_dict()) == SPEC
    assert PROBE_ORDERS.min() > 1.0 and len(set(PROBE_ORDERS.round(6))) == len(PROBE_ORDERS)


def test_running_median_follows_the_trend_and_ignores_a_line():
    z = np.tile(np.linspace(0.0, 10.0, 400), (2, 1))
    z[:, 200] += 50.0
    bg = running_median(z, 20)
    assert np.abs(bg - np.linspace(0.0, 10.0, 400)).max() < 0.3


def test_a_bad_shaft_speed_is_refused():
    with pytest.raises(ValueError, match="shaft speed"):
        defect_order_inputs(np.zeros((1, 12_000), np.float32), 12_000.0, SPEC, 0.0,
                            BEARINGS["SKF 6205-2RS"].geometry.defect_orders())


def test_inputs_are_in_fixed_db_and_scale_free_while_legacy_specs_keep_their_scale():
    orders = BEARINGS["SKF 6205-2RS"].geometry.defect_orders()
    x = impacts(12_000.0, 1.0, orders["BPFI"] * 29.0, 3600.0, snr=2.0)
    a, _, _ = defect_order_inputs(x, 12_000.0, SPEC, 29.0, orders)
    b, _, _ = defect_order_inputs(1e-3 * x, 12_000.0, SPEC, 29.0, orders)
    np.testing.assert_allclose(a, b, atol=1e-3)  # gain and unit do not matter
    prom, unit = prominence_db(a, SPEC)
    assert unit == "dB" and prom[0, FAMILIES.index("BPFI")] > 6.0
    # Legacy: standardised by the snapshot's own probe spread, read in standard scores.
    legacy = InputSpec(**{**SPEC.to_dict(), "db_per_unit": 0.0})
    c, _, _ = defect_order_inputs(x, 12_000.0, legacy, 29.0, orders)
    assert prominence_db(c, legacy)[1] == "robust z"
    assert not np.allclose(a[:, :, :-1], c[:, :, :-1], atol=0.1)
    assert InputSpec.from_dict({"kind": "defect_orders"}).db_per_unit == 0.0

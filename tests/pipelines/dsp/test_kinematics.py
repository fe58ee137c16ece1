"""Defect frequencies against published values, and against real CWRU recordings."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from pipelines.dsp.envelope import envelope_spectrum, spectral_kurtosis_band
from pipelines.dsp.kinematics import BEARINGS, BearingGeometry, find_bearing, planetary_stage
from pipelines.dsp.spectra import estimate_shaft_hz

REPO = Path(__file__).resolve().parents[3]
CWRU = Path(os.environ.get("WINDWATCH_DATASETS_DIR", REPO.parent / "shared" / "datasets")) / (
    "cwru_12k_drive_end_dev"
)


def test_cwru_drive_end_6205_matches_the_published_orders():
    # CWRU Bearing Data Center, drive-end bearing table (multiples of running speed).
    orders = BEARINGS["SKF 6205-2RS"].geometry.defect_orders()
    assert orders["BPFI"] == pytest.approx(5.4152, rel=1e-3)
    assert orders["BPFO"] == pytest.approx(3.5848, rel=1e-3)
    assert orders["FTF"] == pytest.approx(0.3983, rel=1e-3)
    assert 2 * orders["BSF"] == pytest.approx(4.7135, rel=1e-3)  # CWRU lists 2 x BSF
    assert orders["BSF2"] == pytest.approx(2 * orders["BSF"])


def test_cwru_fan_end_6203_matches_the_published_orders():
    orders = BEARINGS["SKF 6203-2RS"].geometry.defect_orders()
    assert orders["BPFI"] == pytest.approx(4.9469, rel=1e-3)
    assert orders["BPFO"] == pytest.approx(3.0530, rel=1e-3)
    assert orders["FTF"] == pytest.approx(0.3817, rel=1e-3)
    assert orders["BSF2"] == pytest.approx(3.9874, rel=1e-3)


def test_identities_and_frequencies_scale_with_shaft_speed():
    b = BearingGeometry(n_elements=13, ball_diameter=12.0, pitch_diameter=70.0,
                        contact_angle_deg=15.0)
    o = b.defect_orders()
    assert o["BPFO"] + o["BPFI"] == pytest.approx(13)  # n = BPFO + BPFI (in orders)
    assert o["BPFO"] == pytest.approx(13 * o["FTF"])
    hz = b.defect_frequencies_hz(1500 / 60)
    assert all(hz[k] == pytest.approx(v * 25.0) for k, v in o.items())
    with pytest.raises(ValueError, match="implausible"):
        BearingGeometry(9, 2.0, 1.0)


def test_catalogue_lookup_ignores_case_spaces_and_dashes():
    assert find_bearing("skf6309").designation == "SKF 6309"
    assert find_bearing("SKF 6205 2RS").designation == "SKF 6205-2RS"
    assert find_bearing("no such bearing") is None
    assert all(b.geometry.defect_orders()["BPFO"] > 0 for b in BEARINGS.values())


def test_planetary_stage():
    # NREL GRC gearbox low-speed stage: sun 21, planets 39 (x3), ring 99; rotor 22.1 rpm.
    carrier_hz = 22.1 / 60
    stage = planetary_stage(21, 39, 99, carrier_hz, n_planets=3)
    assert stage.ratio == pytest.approx(1 + 99 / 21)  # 5.714
    assert stage.mesh_hz == pytest.approx(99 * carrier_hz)
    # The same mesh frequency seen from the sun and from a planet, relative to the carrier.
    assert stage.mesh_hz == pytest.approx(21 * (stage.sun_hz - carrier_hz))
    assert stage.mesh_hz == pytest.approx(39 * stage.planet_hz)
    assert stage.planet_pass_hz == pytest.approx(3 * carrier_hz)


def _cwru(name: str) -> tuple[np.ndarray, float, float]:
    rows = {r["file"]: r for r in csv.DictReader((CWRU / "labels.csv").open())}
    row = rows[name]
    mat = scipy.io.loadmat(CWRU / name)
    x = mat[f"X{int(row['cwru_file_no']):03d}_DE_time"].ravel().astype(np.float32)
    return x, float(row["fs_hz"]), float(row["rpm_in_file"]) / 60.0


@pytest.mark.skipif(not CWRU.is_dir(), reason=f"CWRU data set not found at {CWRU}")
@pytest.mark.parametrize(
    ("name", "order"),
    [("12k_Drive_End_IR007_0_105.mat", "BPFI"), ("12k_Drive_End_IR021_2_211.mat", "BPFI"),
     ("12k_Drive_End_OR007@6_1_131.mat", "BPFO")],
)
def test_real_cwru_envelope_line_at_the_kinematic_frequency(name, order):
    x, fs_hz, shaft_hz = _cwru(name)
    assert estimate_shaft_hz(x, fs_hz, 0.8 * shaft_hz, 1.2 * shaft_hz) == pytest.approx(
        shaft_hz, abs=0.1)  # the rpm in the file was read by hand
    expected_hz = BEARINGS["SKF 6205-2RS"].geometry.defect_frequencies_hz(shaft_hz)[order]
    f, amp = envelope_spectrum(x, fs_hz, spectral_kurtosis_band(x, fs_hz), fmax_hz=500.0)
    above = f > 40.0
    assert f[above][np.argmax(amp[0, above])] == pytest.approx(expected_hz, rel=0.01)

"""Which speed and geometry the diagnosis uses, and the warnings it gives."""

from __future__ import annotations

import numpy as np

from pipelines.dsp.kinematics import BEARINGS, DEFAULT_BEARING
from pipelines.inference.shaft import ShaftContext, resolve_speed
from tests.pipelines.dsp.test_speed import shaft_signal


def test_a_given_rpm_is_used_and_checked_against_the_spectrum():
    x = shaft_signal(12_000.0, 25.0)
    ok = resolve_speed(x, 12_000.0, ShaftContext(rpm=1500.0))
    assert ok.source == "given" and ok.shaft_hz == 25.0 and not ok.warnings
    off = resolve_speed(x, 12_000.0, ShaftContext(rpm=1380.0))  # 8 % low
    assert off.shaft_hz == 23.0 and "disagrees with the spectrum" in off.warnings[0]


def test_without_rpm_the_speed_is_estimated_and_said_so():
    x = shaft_signal(12_000.0, 25.0)
    est = resolve_speed(x, 12_000.0, ShaftContext(rpm_range=(1200.0, 1800.0)))
    assert est.source == "estimated" and abs(est.shaft_hz - 25.0) < 0.5
    assert "estimated from the spectrum" in est.warnings[0]


def test_without_geometry_the_default_bearing_is_assumed():
    ctx = ShaftContext(rpm=1500.0)
    assert ctx.geometry == "assumed"
    assert ctx.orders() == BEARINGS[DEFAULT_BEARING].geometry.defect_orders()
    own = BEARINGS["SKF 6309"].geometry.defect_orders()
    assert ShaftContext(defect_orders=own).geometry == "registered"
    assert np.isclose(ShaftContext(defect_orders=own).orders()["BPFO"], own["BPFO"])

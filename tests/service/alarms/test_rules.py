"""Pure alarm rules: N-of-M hysteresis edges, VDI 3834-1 zone boundaries, severities, components."""

from __future__ import annotations

import pytest

from service.alarms import rules
from service.alarms.rules import AlarmPolicy, ZoneLimits

POLICY = AlarmPolicy(threshold=0.7, n=3, m=5)


@pytest.mark.parametrize(("newest_first", "met"), [
    ([], False),
    ([0.9], False),                                # fewer than n predictions so far
    ([0.9, 0.9], False),
    ([0.9, 0.9, 0.9], True),                       # n of n at the start of the history
    ([0.9, 0.1, 0.9, 0.1, 0.9], True),             # 3 of 5, spread out
    ([0.9, 0.1, 0.9, 0.1, 0.1, 0.9], False),       # the third is the 6th: outside the window
    ([0.1, 0.9, 0.9, 0.9, 0.9], False),            # newest below: a normal snapshot never fires
    ([0.7, 0.9, 0.9, 0.9], False),                 # exactly at the threshold is not above it
    ([0.71, 0.7, 0.9, 0.9], True),
    ([0.71, 0.7, 0.7, 0.9, 0.7, 0.9], False),
])
def test_hysteresis_window_edges(newest_first, met):
    assert rules.hysteresis_met(newest_first, POLICY) is met


def test_exceeding_indexes_only_the_window():
    assert rules.exceeding([0.9, 0.1, 0.8, 0.75, 0.2, 0.99], POLICY).tolist() == [0, 2, 3]


def test_one_of_one_policy_fires_on_every_exceedance():
    pol = AlarmPolicy(threshold=0.5, n=1, m=1)
    assert rules.hysteresis_met([0.51, 0.0], pol)
    assert not rules.hysteresis_met([0.5, 0.9], pol)


@pytest.mark.parametrize("kwargs", [{"n": 0}, {"n": 6, "m": 5}, {"threshold": 1.0},
                                    {"threshold": -0.1}])
def test_policy_rejects_nonsense(kwargs):
    with pytest.raises(ValueError):
        AlarmPolicy(**kwargs)


def test_policy_overrides_per_class():
    strict = AlarmPolicy(threshold=0.9)
    assert rules.policy_for("ball", {"ball": strict}) is strict
    assert rules.policy_for("inner_race", {"ball": strict}) is rules.DEFAULT_POLICY


GEARBOX_V = rules.ZONE_LIMITS["gearbox"]["rms_velocity_mm_s"]


@pytest.mark.parametrize(("value", "zone", "severity"), [
    (0.0, "A/B", None),
    (3.4999, "A/B", None),
    (3.5, "C", "minor"),           # the B/C boundary belongs to zone C
    (4.5499, "C", "minor"),
    (4.55, "C", "major"),          # upper half of zone C (midpoint of 3.5 and 5.6)
    (5.5999, "C", "major"),
    (5.6, "D", "critical"),        # the C/D boundary belongs to zone D
    (100.0, "D", "critical"),
])
def test_gearbox_velocity_zone_boundaries(value, zone, severity):
    assert rules.classify_zone(value, GEARBOX_V) == zone
    assert rules.zone_severity(value, GEARBOX_V) == severity


def test_vdi_limits_per_component():
    z = rules.ZONE_LIMITS
    assert z["main_bearing"]["rms_velocity_mm_s"] == ZoneLimits(2.0, 3.2)
    assert "rms_accel_m_s2" not in z["main_bearing"]  # VDI 3834-1 gives none for it
    assert z["gearbox"]["rms_accel_m_s2"] == ZoneLimits(7.5, 12.0)
    assert z["generator"]["rms_velocity_mm_s"] == ZoneLimits(6.0, 10.0)
    assert z["generator"]["rms_accel_m_s2"] == ZoneLimits(10.0, 16.0)
    with pytest.raises(ValueError):
        ZoneLimits(3.0, 2.0)


@pytest.mark.parametrize(("name", "component", "expected"), [
    ("main_bearing", None, "main_bearing"),
    ("main_bearing_axial", None, "main_bearing"),
    ("gearbox_hss", None, "gearbox"),
    ("generator_de", None, "generator"),
    ("Generator-NDE", None, "generator"),
    ("nacelle_x", None, "gearbox"),               # unknown: the default
    ("gearbox_hss", "Main bearing", "main_bearing"),  # the column wins over the name
    ("s1", "generator drive end", "generator"),
    ("generator_de", "tower", "generator"),       # an unknown column falls back to the name
])
def test_component_from_column_then_name_then_default(name, component, expected):
    assert rules.component_of(name, component) == expected


def test_fault_severity_from_probability_and_zone():
    assert rules.fault_severity(0.75, POLICY) == "minor"
    assert rules.fault_severity(0.9, POLICY) == "major"
    assert rules.fault_severity(0.75, POLICY, zone="C") == "minor"
    assert rules.fault_severity(0.75, POLICY, zone="D") == "critical"


def test_severity_and_zone_ordering():
    assert rules.max_severity("minor", "critical") == "critical"
    assert rules.max_severity("major", "minor") == "major"
    assert rules.worst_zone(["C", "A/B", "D"]) == "D"
    assert rules.worst_zone(["A/B", "C"]) == "C"
    assert rules.worst_zone([]) is None


def test_anomaly_window_counts_unscored_snapshots_as_below():
    w = rules.ANOMALY_POLICY.at(3.6)
    assert (w.threshold, w.n, w.m, w.major_at) == (3.6, 3, 5, 7.2)
    assert rules.hysteresis_met([5.0, 4.0, None, 3.7, 1.0], w)
    assert not rules.hysteresis_met([5.0, None, None, 3.7, 1.0], w)
    assert not rules.hysteresis_met([3.0, 5.0, 5.0, 5.0], w)  # the newest must exceed
    assert list(rules.exceeding([5.0, 4.0, None, 3.7, 9.0, 9.0], w)) == [0, 1, 3, 4]
    assert rules.anomaly_severity(8.0, w) == "major"
    assert rules.anomaly_severity(4.0, w) == "minor"
    assert rules.anomaly_severity(4.0, w, zone="D") == "critical"
    with pytest.raises(ValueError):
        rules.AnomalyPolicy(n=6, m=5)

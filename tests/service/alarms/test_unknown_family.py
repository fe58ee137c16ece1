"""A sensor without registered geometry never gets an alarm that names a race: its fault alarms
carry the probability of any fault under ``unknown_family``."""

from __future__ import annotations

from service.alarms.service import UNKNOWN_FAMILY, _fault_probabilities

PROBS = {"normal": 0.1, "inner_race": 0.2, "outer_race": 0.65, "ball": 0.05}


def test_registered_geometry_keeps_the_classes():
    got = _fault_probabilities(PROBS, 0.9, {"geometry": "registered"})
    assert got == {"inner_race": 0.2, "outer_race": 0.65, "ball": 0.05}
    assert _fault_probabilities(PROBS, 0.9, None) == got  # spectrum models: no diagnosis


def test_assumed_geometry_gives_one_unknown_family_probability():
    assert _fault_probabilities(PROBS, 0.9, {"geometry": "assumed"}) == {UNKNOWN_FAMILY: 0.9}

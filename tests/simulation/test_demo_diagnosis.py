"""The demo fleet tells the truth: with each simulated drivetrain's bearing geometry (as the demo
registers it), the bundled production model names every simulated fault by the end of the demo
history and keeps the healthy turbines below the fault-alarm threshold. (The simulator is never
evidence of accuracy; it is the first thing a new user sees.)"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from models.checkpoint import load_checkpoint
from pipelines.inference.shaft import ShaftContext
from pipelines.inference.snapshot import analyse_snapshot
from service.alarms.rules import DEFAULT_POLICY
from service.demo import HISTORY, geometry_body
from service.registry.service import DEFAULT_PRODUCTION
from service.settings import BUNDLED_MODEL_DIR
from simulation.drivetrain import demo_fleet, fleet_snapshots


@pytest.fixture(scope="module")
def last_snapshots():
    fleet = demo_fleet(8, seed=0)
    snaps = list(fleet_snapshots(fleet, HISTORY, datetime(2026, 11, 1, tzinfo=UTC)))
    return fleet, snaps[-len(fleet):]  # the last tick: every turbine once


def test_every_simulated_fault_is_named_and_healthy_turbines_stay_quiet(last_snapshots):
    fleet, snaps = last_snapshots
    clf = load_checkpoint(BUNDLED_MODEL_DIR / f"{DEFAULT_PRODUCTION}.json")
    assert {t.fault for t in fleet} >= {"normal", "outer_race", "inner_race", "ball"}
    for spec, s in zip(fleet, snaps, strict=True):
        shaft = ShaftContext(rpm=s.rpm, defect_orders=spec.drivetrain.defect_orders())
        a = analyse_snapshot(s.x, s.fs_hz, clf, shaft=shaft)
        probs = dict(zip(a.classes, a.probabilities, strict=True))
        if spec.fault == "normal":
            assert max(p for c, p in probs.items() if c != "normal") < DEFAULT_POLICY.threshold, (
                spec.turbine_id, probs)
        else:
            assert a.label == spec.fault, (spec.turbine_id, spec.fault, probs)
            assert a.diagnosis["fault_family"] == spec.fault


def test_the_demo_registers_the_simulated_bearing():
    spec = demo_fleet(1, seed=0)[0]
    body = geometry_body(spec)
    assert body["n_elements"] == spec.drivetrain.n_elements
    assert body["pitch_diameter_mm"] > body["element_diameter_mm"] > 0

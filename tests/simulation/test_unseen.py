"""Simulated machines of random geometry, speed and rate (a stress test of machine
independence, not evidence of accuracy): the bundled default diagnoses them about as well as
the 6-dB envelope rule on the same readings, and the sweep's bookkeeping is right."""

from __future__ import annotations

import numpy as np
import pytest

from models.checkpoint import load_checkpoint
from service.registry.service import DEFAULT_PRODUCTION
from service.settings import BUNDLED_MODEL_DIR
from simulation.unseen import GATE_DB, macro_f1, random_machine, rule_call, sweep


def test_rule_call_and_macro_f1():
    prom = {"FTF": 30.0, "BPFO": 7.0, "BPFI": 6.5, "BSF": 1.0, "SHAFT": 40.0}
    assert rule_call(prom) == "outer_race"  # FTF and shaft lines are never a fault family
    assert rule_call({**prom, "BPFO": GATE_DB - 0.1, "BPFI": 0.0}) == "normal"
    assert macro_f1([(c, c) for c in ("normal", "inner_race", "outer_race", "ball")]) == 1.0
    assert macro_f1([("ball", "normal"), ("normal", "normal")]) == pytest.approx((2 / 3) / 4)


def test_random_machines_cover_the_operating_range():
    rng = np.random.default_rng(0)
    machines = [random_machine(rng) for _ in range(200)]
    assert {fs for _, fs, _ in machines} == {12_000.0, 20_000.0, 25_600.0, 48_000.0, 51_200.0}
    assert min(r for *_, r in machines) >= 600 and max(r for *_, r in machines) <= 3000
    assert len({cfg.n_elements for cfg, *_ in machines}) > 8


@pytest.mark.slow
def test_the_default_model_keeps_the_physics_on_machines_it_never_saw():
    clf = load_checkpoint(BUNDLED_MODEL_DIR / f"{DEFAULT_PRODUCTION}.json")
    r = sweep(clf, n_snapshots=120, seed=0)
    assert r["n"] == len(r["rows"]) == 120
    # Measured (seed 0, 120 snapshots): see README, "Machines nobody trained on".
    assert r["macro_f1"]["model"] >= 0.9
    assert r["macro_f1"]["model"] >= r["macro_f1"]["rule_6db"] - 0.05
    assert r["recall"]["model"]["normal"] == 1.0  # no simulated healthy machine is called faulty


@pytest.mark.slow
def test_a_given_rpm_five_percent_off_still_finds_the_combs():
    clf = load_checkpoint(BUNDLED_MODEL_DIR / f"{DEFAULT_PRODUCTION}.json")
    r = sweep(clf, n_snapshots=120, seed=0, rpm_error=0.05)
    assert r["rpm_error"] == 0.05
    # Without the defect-comb speed search the same sweep scored about 0.2 (README).
    assert r["macro_f1"]["model"] >= 0.8
    assert r["recall"]["model"]["normal"] == 1.0

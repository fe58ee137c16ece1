"""Machines nobody trained on, simulated: a stress test of machine independence, NOT evidence
of accuracy (the simulator's faults are clean impact trains, kinder than real ones).

Each snapshot comes from a drivetrain of random bearing geometry (7-19 elements, d/D cos(phi)
0.15-0.35, contact angle 0 or 15 deg), shaft speed (600-3000 rpm), sample rate (12-51.2 kHz),
resonance (2-5.5 kHz) and fault severity, one 1-s channel, posted to the diagnosis as an
operator would (geometry registered, rpm given). The classifier's call is set against the
envelope rule at the models' own 6-dB gate on the same readings: on a machine never seen,
that rule is what a learnt model must at least match.

    .venv/bin/python -m simulation.unseen [--model models/bundled/family1d-default.json]
        [--snapshots 240] [--seed 0] [--rpm-error 0.0]
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import cast

import numpy as np

from models.checkpoint import Classifier, load_checkpoint
from models.family_head import GATE_Z
from pipelines.evaluation.transfer import RULE_CLASSES, rule_predict
from pipelines.features.spec import DEFECT_ORDER_SPEC
from pipelines.inference.shaft import ShaftContext
from pipelines.inference.snapshot import analyse_snapshot
from pipelines.learning.datasets import CLASSES
from simulation.drivetrain import FAULT_KINDS, DrivetrainConfig, FaultKind, simulate_snapshot

RATES_HZ = (12_000.0, 20_000.0, 25_600.0, 48_000.0, 51_200.0)
GATE_DB = DEFECT_ORDER_SPEC.db_per_unit * GATE_Z  # the models' comb gate in dB


def random_machine(rng: np.random.Generator) -> tuple[DrivetrainConfig, float, float]:
    """(drivetrain, sample rate Hz, rpm) of a random plausible machine."""
    pitch = 100.0
    cfg = DrivetrainConfig(
        n_elements=int(rng.integers(7, 20)), ball_diameter_mm=float(rng.uniform(0.15, 0.35)) * pitch,
        pitch_diameter_mm=pitch, contact_angle_deg=float(rng.choice([0.0, 0.0, 15.0])),
        resonance_hz=float(rng.uniform(2000.0, 5500.0)), path_seed=int(rng.integers(1000)))
    return cfg, float(rng.choice(RATES_HZ)), float(rng.uniform(600.0, 3000.0))


def rule_call(prominence_db: dict[str, float]) -> str:
    """The evaluation's envelope rule at the 6-dB gate (the strongest race/ball family, normal
    below it) on a diagnosis's ``family_prominence`` (dB)."""
    units = np.array([[prominence_db[f] / DEFECT_ORDER_SPEC.db_per_unit for f in RULE_CLASSES]])
    return CLASSES[int(rule_predict(units, GATE_Z)[0])]


def macro_f1(pairs: list[tuple[str, str]]) -> float:
    """Mean F1 over the four classes of (true, called) pairs."""
    true, called = np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])
    f1 = []
    for c in FAULT_KINDS:
        tp = np.sum((true == c) & (called == c))
        f1.append(2 * tp / max(2 * tp + np.sum((true != c) & (called == c))
                               + np.sum((true == c) & (called != c)), 1))
    return float(np.mean(f1))


def sweep(classifier: Classifier, n_snapshots: int = 240, seed: int = 0,
          rpm_error: float = 0.0) -> dict:
    """Model and rule calls on ``n_snapshots`` simulated snapshots (classes in turn), the rpm
    given ``rpm_error`` (relative) off the simulated shaft's, as a set-point or slip would be."""
    rng = np.random.default_rng(seed)
    model: list[tuple[str, str]] = []
    rule: list[tuple[str, str]] = []
    rows: list[dict] = []
    for i in range(n_snapshots):
        fault = cast(FaultKind, FAULT_KINDS[i % len(FAULT_KINDS)])
        cfg, fs, rpm = random_machine(rng)
        severity = float(rng.uniform(0.15, 0.6))
        x, meta = simulate_snapshot(cfg, fault, severity, fs_hz=fs, duration_s=1.0, n_channels=1,
                                    rpm=rpm, seed=int(rng.integers(1 << 30)))
        a = analyse_snapshot(x, fs, classifier,
                             shaft=ShaftContext(rpm=meta["rpm"] * (1.0 + rpm_error),
                                                defect_orders=meta["defect_orders"]))
        called_rule = rule_call(a.diagnosis["family_prominence"])
        model.append((fault, a.label))
        rule.append((fault, called_rule))
        rows.append({"fault": fault, "model": a.label, "rule": called_rule, "fs_hz": fs,
                     "rpm": round(rpm), "elements": cfg.n_elements, "severity": round(severity, 2)})
    recall = {who: {c: float(np.mean([p[1] == c for p in pairs if p[0] == c]))
                    for c in FAULT_KINDS} for who, pairs in (("model", model), ("rule", rule))}
    return {"model": classifier.name, "seed": seed, "n": n_snapshots, "rpm_error": rpm_error,
            "macro_f1": {"model": macro_f1(model), "rule_6db": macro_f1(rule)},
            "recall": recall,
            "model_overrules_rule": int(sum(m[1] != r[1] for m, r in zip(model, rule, strict=True))),
            "rows": rows}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path,
                    default=Path(__file__).resolve().parent.parent / "models" / "bundled"
                    / "family1d-default.json")
    ap.add_argument("--snapshots", type=int, default=240)
    ap.add_argument("--seed", type=int, nargs="+", default=[0])
    ap.add_argument("--rpm-error", type=float, nargs="+", default=[0.0],
                    help="relative error(s) of the given rpm, e.g. 0.03 -0.05")
    args = ap.parse_args()
    clf = load_checkpoint(args.model)
    print("| model | rpm error | seed | snapshots | macro-F1 model | macro-F1 rule at 6 dB "
          "| calls that differ |")
    print("|---|---|---|---|---|---|---|")
    for err in args.rpm_error:
        for seed in args.seed:
            r = sweep(clf, args.snapshots, seed, err)
            print(f"| {r['model']} | {err:+.0%} | {seed} | {r['n']} | "
                  f"{r['macro_f1']['model']:.3f} | {r['macro_f1']['rule_6db']:.3f} | "
                  f"{r['model_overrules_rule']} |", flush=True)


if __name__ == "__main__":
    main()

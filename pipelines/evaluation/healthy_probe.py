"""Healthy machines whose bearing nobody trained on: the real healthy runs, read as if each
carried a bearing of random plausible geometry.

A turbine an operator connects is a machine with its own bearing, and with its own lines from
everything else turning in it (other bearings, gears, the generator's field). On a healthy
machine, a defect family is called only if the registered bearing's combs happen to fall on
such lines. This measures how often that happens on real recordings: each healthy run (UESTC's
normal runs at four speeds, CWRU's normal recording) is cut into 1-s snapshots and diagnosed
through the serving path (``analyse_snapshot``, rpm given, geometry registered) once with its
own bearing and once with each of ``n_geometries`` random bearings (7-19 elements, d/D 0.15-0.35,
as ``pipelines.learning.family_training.random_orders``). Reported per run: the share of
snapshots called faulty, and the share of bearings for which 3 of 5 consecutive snapshots are
faulty (what opens a fault alarm). Pure computation on arrays; the CLI prints the table.

    .venv/bin/python -m pipelines.evaluation.healthy_probe [--geometries 40] [--snapshots 5]
        [--model models/bundled/family1d-default.json] [--datasets $WINDWATCH_DATASETS_DIR]
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from models.checkpoint import Classifier, load_checkpoint
from pipelines.inference.shaft import ShaftContext
from pipelines.inference.snapshot import analyse_snapshot
from pipelines.learning.datasets import Recording
from pipelines.learning.family_training import default_recordings, random_orders, recording_orders

ALARM_N, ALARM_M = 3, 5  # the fault alarm's hysteresis: 3 of the last 5 snapshots


def snapshot_calls(rec: Recording, classifier: Classifier, orders: dict[str, float],
                   n_snapshots: int) -> list[str]:
    """The labels of the run's first ``n_snapshots`` disjoint 1-s snapshots, diagnosed with
    ``orders`` registered and the run's rpm given."""
    n = int(round(rec.fs_hz))
    shaft = ShaftContext(rpm=rec.rpm, defect_orders=orders)
    return [analyse_snapshot(rec.signal[None, k * n:(k + 1) * n], rec.fs_hz, classifier,
                             shaft=shaft).label
            for k in range(min(n_snapshots, len(rec.signal) // n))]


def probe_run(rec: Recording, classifier: Classifier, geometries: Sequence[dict[str, float]],
              n_snapshots: int = ALARM_M) -> dict:
    """One healthy run: its own bearing's calls, and over the random bearings the share of
    snapshots called faulty and the share of bearings that would open a fault alarm."""
    own = snapshot_calls(rec, classifier, recording_orders(rec), n_snapshots)
    faulty: list[float] = []
    alarms, families = 0, dict[str, int]()
    for orders in geometries:
        calls = snapshot_calls(rec, classifier, orders, n_snapshots)
        bad = [c for c in calls if c != "normal"]
        faulty.append(len(bad) / len(calls))
        alarms += len(bad) >= ALARM_N
        for c in bad:
            families[c] = families.get(c, 0) + 1
    return {"run": rec.recording_id, "rig": rec.rig, "rpm": round(rec.rpm),
            "own_faulty": sum(c != "normal" for c in own) / len(own),
            "faulty": float(np.mean(faulty)), "alarm_share": alarms / len(geometries),
            "families": families}


def probe(datasets_dir: Path | str, classifier: Classifier, n_geometries: int = 40,
          n_snapshots: int = ALARM_M, seed: int = 0) -> list[dict]:
    """Every healthy run of the default recordings, against the same ``n_geometries`` random
    bearings (seeded)."""
    rng = np.random.default_rng(seed)
    geometries = [random_orders(rng) for _ in range(n_geometries)]
    runs = [r for r in default_recordings(datasets_dir) if r.label == "normal"]
    return [probe_run(r, classifier, geometries, n_snapshots) for r in runs]


def main() -> None:
    root = Path(__file__).resolve().parents[2]
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=root / "models" / "bundled"
                    / "family1d-default.json")
    ap.add_argument("--datasets", type=Path, default=Path(os.environ.get(
        "WINDWATCH_DATASETS_DIR", root.parent / "shared" / "datasets")))
    ap.add_argument("--geometries", type=int, default=40)
    ap.add_argument("--snapshots", type=int, default=ALARM_M)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    clf = load_checkpoint(args.model)
    rows = probe(args.datasets, clf, args.geometries, args.snapshots, args.seed)
    print(f"{clf.name}: {args.geometries} random bearings, {args.snapshots} 1-s snapshots each")
    print("| run | rpm | own bearing: faulty | random bearings: faulty | bearings that alarm "
          "| families called |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        fam = ", ".join(f"{k} {v}" for k, v in sorted(r["families"].items())) or "-"
        print(f"| {r['run']} | {r['rpm']} | {r['own_faulty']:.0%} | {r['faulty']:.1%} | "
              f"{r['alarm_share']:.0%} | {fam} |", flush=True)
    print(f"| all | | {np.mean([r['own_faulty'] for r in rows]):.1%} | "
          f"{np.mean([r['faulty'] for r in rows]):.1%} | "
          f"{np.mean([r['alarm_share'] for r in rows]):.1%} | |")


if __name__ == "__main__":
    main()

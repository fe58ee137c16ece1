"""The transfer protocol of the defect-family models (``family1d`` / ``family2d``): how well a
model trained on some machines diagnoses machines, loads, fault sizes and speeds it never saw.

Folds move whole runs (``FamilyDataset.groups``: a CWRU recording, or a UESTC run with all its
parts); ``check_folds`` enforces it. Every fold trains on all augmented variants of its
training side and tests on the ``clean`` and ``noise0`` (0 dB SNR, white noise added before any
processing) windows of its held-out side:

- leave-one-rig-out: train on CWRU, test on UESTC, and the other way round;
- leave-one-load-out (CWRU): test one CWRU load, train on the other loads and all UESTC;
- held-out fault size (CWRU): test the 0.014" faults, train on the rest and all UESTC;
- leave-one-speed-out (UESTC): test one set-point speed, train on the others and all CWRU.

The envelope rule is a baseline in every fold, on the same windows and geometry: the family of
largest ``family_prominence`` among BPFO / BPFI / BSF (3 harmonics, +-2 %), ``normal`` when that
largest reading is below a threshold chosen on the fold's training rows (the value that
maximises their macro-F1). The dataset is computed once per run and rows are selected per fold.
"""

from __future__ import annotations

import hashlib
import importlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from models.family_head import GATE_Z
from pipelines.features.defect_orders import FAMILIES, family_prominence
from pipelines.learning.datasets import CLASSES, Recording
from pipelines.learning.family_training import (
    DEFAULT_STEPS,
    FamilyDataset,
    default_recordings,
    family_dataset,
    family_labels,
    fit_family,
    predict_family,
)

PROTOCOLS = ("leave_one_rig_out", "leave_one_load_out", "held_out_fault_size",
             "leave_one_speed_out")
TEST_VARIANTS = {"clean": "clean", "snr_0_db": "noise0"}  # condition -> dataset variant
HELD_OUT_SIZE_IN = 0.014
RULE_CLASSES = {"BPFO": "outer_race", "BPFI": "inner_race", "BSF": "ball"}
RULE = "envelope_rule"  # threshold fitted on the fold's training side
RULE_AT_GATE = "envelope_rule_6db"  # threshold: the models' fixed 6-dB comb gate
# The 2-D model costs ~4x the 1-D one per step: by default it runs on these protocols only.
ARCH_PROTOCOLS: dict[str, tuple[str, ...]] = {"family2d": ("leave_one_rig_out",)}
SOURCES = ("models.family_head", "models.family1d", "models.family2d",
           "pipelines.features.spec", "pipelines.dsp.envelope",
           "pipelines.features.defect_orders", "pipelines.features.cells",
           "pipelines.features.comb_speed", "pipelines.learning.family_training")
Log = Callable[[str], None]


@dataclass(frozen=True)
class TransferFold:
    """One fold: the run ids (``FamilyDataset.groups``) on each side."""

    protocol: str
    name: str
    train: frozenset[str]
    test: frozenset[str]


def source_digests() -> dict[str, str]:
    """sha256 (first 12 hex digits) of the source of each module in ``SOURCES``: which code
    a report's figures were measured with."""
    out = {}
    for name in SOURCES:
        path = importlib.import_module(name).__file__
        out[name] = hashlib.sha256(Path(str(path)).read_bytes()).hexdigest()[:12]
    return out


def run_table(recordings: Sequence[Recording]) -> dict[str, Recording]:
    """Run id (as in ``FamilyDataset.groups``) -> the first labelled recording of that run."""
    out: dict[str, Recording] = {}
    for r in recordings:
        if r.label in CLASSES:
            out.setdefault(r.run_id or r.recording_id, r)
    return out


def uestc_speed_rpm(rec: Recording) -> int:
    """The set-point speed of a UESTC run (its run id ends in it: ``N_1000`` -> 1000)."""
    return int(rec.run_id.rsplit("_", 1)[-1])


def build_transfer_folds(recordings: Sequence[Recording],
                         protocols: Sequence[str] = PROTOCOLS) -> list[TransferFold]:
    """Every fold of the requested protocols over the runs of ``recordings``."""
    runs = run_table(recordings)
    cwru = {g for g, r in runs.items() if r.rig == "cwru"}
    uestc = {g for g, r in runs.items() if r.rig == "uestc"}
    specs: list[tuple[str, str, set[str], set[str] | None]] = []
    if "leave_one_rig_out" in protocols:
        specs += [("leave_one_rig_out", "train CWRU, test UESTC", cwru, uestc),
                  ("leave_one_rig_out", "train UESTC, test CWRU", uestc, cwru)]
    if "leave_one_load_out" in protocols:
        for h in sorted({runs[g].load_hp for g in cwru}):
            specs.append(("leave_one_load_out", f"test CWRU load {h} HP", set(),
                          {g for g in cwru if runs[g].load_hp == h}))
    if "held_out_fault_size" in protocols:
        specs.append(("held_out_fault_size", f'test CWRU fault size {HELD_OUT_SIZE_IN:.3f}"',
                      set(), {g for g in cwru
                              if abs(runs[g].fault_size_in - HELD_OUT_SIZE_IN) < 1e-6}))
    if "leave_one_speed_out" in protocols:
        for s in sorted({uestc_speed_rpm(runs[g]) for g in uestc}):
            specs.append(("leave_one_speed_out", f"test UESTC {s} rpm", set(),
                          {g for g in uestc if uestc_speed_rpm(runs[g]) == s}))
    folds = []
    for protocol, name, train, test in specs:
        assert test is not None
        train = train or set(runs) - test  # empty: everything not held out
        folds.append(TransferFold(protocol, name, frozenset(train), frozenset(test)))
    check_folds(folds)
    return folds


def check_folds(folds: Sequence[TransferFold]) -> None:
    """Raise ``ValueError`` if a run is on both sides of a fold, or a side is empty."""
    for f in folds:
        if not f.train or not f.test:
            raise ValueError(f"{f.name}: empty side")
        if f.train & f.test:
            raise ValueError(f"{f.name}: on both sides: {sorted(f.train & f.test)}")


def rule_readings(x: np.ndarray) -> np.ndarray:
    """(M, F, R, L) inputs -> (M, 3) rule readings of BPFO, BPFI, BSF (input units: 6 dB each)."""
    prom = family_prominence(x)
    return prom[:, [FAMILIES.index(f) for f in RULE_CLASSES]]


def rule_predict(readings: np.ndarray, threshold: float) -> np.ndarray:
    """Class indices: the family of largest reading, ``normal`` where it is below threshold."""
    fam = np.array([CLASSES.index(c) for c in RULE_CLASSES.values()])[readings.argmax(1)]
    return np.where(readings.max(1) < threshold, CLASSES.index("normal"), fam)


def calibrate_rule(readings: np.ndarray, y: np.ndarray) -> float:
    """The threshold (over quantiles of the largest reading) maximising macro-F1 on (readings,
    y); ties go to the lowest threshold."""
    candidates = np.unique(np.quantile(readings.max(1), np.linspace(0.0, 0.995, 200)))
    scores = [present_macro_f1(y, rule_predict(readings, t)) for t in candidates]
    return float(candidates[int(np.argmax(scores))])


def present_macro_f1(y: np.ndarray, pred: np.ndarray) -> float:
    """Mean F1 over the classes present in ``y`` (a wrong call into an absent class still
    costs the true class its recall)."""
    f1 = []
    for k in np.unique(y):
        tp = int(((pred == k) & (y == k)).sum())
        f1.append(2 * tp / (int((pred == k).sum()) + int((y == k).sum())))
    return float(np.mean(f1)) if f1 else 0.0


def window_metrics(pred: np.ndarray, y: np.ndarray, groups: np.ndarray) -> dict:
    """Macro-F1 (classes present), accuracy, per-class recall, confusion (rows true), the share
    of healthy windows called normal, and each held-out run's majority vote."""
    n = len(CLASSES)
    cm = np.zeros((n, n), dtype=np.int64)
    np.add.at(cm, (y, pred), 1)
    normal = CLASSES.index("normal")
    votes = {str(g): CLASSES[int(np.bincount(pred[groups == g], minlength=n).argmax())]
             for g in np.unique(groups)}
    truth = {str(g): CLASSES[int(y[groups == g][0])] for g in np.unique(groups)}
    return {
        "n_windows": int(len(y)), "macro_f1": present_macro_f1(y, pred),
        "accuracy": float((pred == y).mean()),
        "recall": {c: float(cm[k, k] / cm[k].sum()) for k, c in enumerate(CLASSES) if cm[k].sum()},
        "confusion": cm.tolist(),
        "healthy_called_normal": float(cm[normal, normal] / cm[normal].sum())
        if cm[normal].sum() else None,
        "run_vote_accuracy": float(np.mean([votes[g] == truth[g] for g in votes])),
        "wrong_runs": {g: f"{truth[g]} voted {votes[g]}" for g in votes if votes[g] != truth[g]},
    }


def run_fold(data: FamilyDataset, fold: TransferFold, archs: Sequence[str], seed: int,
             steps: int, log: Log,
             arch_protocols: dict[str, tuple[str, ...]] | None = None) -> dict:
    """The rule and every arch (that ``arch_protocols`` runs on this fold's protocol) on one
    fold: train on the training rows, test on the held-out rows of each ``TEST_VARIANTS``."""
    arch_protocols = ARCH_PROTOCOLS if arch_protocols is None else arch_protocols
    train = data.select(np.isin(data.groups, list(fold.train)))
    tests = {c: data.select(np.isin(data.groups, list(fold.test)) & (data.variant == v))
             for c, v in TEST_VARIANTS.items()}
    t0 = time.perf_counter()
    threshold = calibrate_rule(rule_readings(train.x), train.y)
    # Two rule baselines: its threshold fitted on the training side (what a rule tuned on one
    # rig carries), and at the models' own fixed 6-dB gate (the physics the CNN starts from).
    models: dict[str, dict] = {
        name: {"threshold": round(thr, 4), "train_seconds": round(time.perf_counter() - t0, 1),
               **{c: window_metrics(rule_predict(rule_readings(t.x), thr), t.y, t.groups)
                  for c, t in tests.items()}}
        for name, thr in ((RULE, threshold), (RULE_AT_GATE, GATE_Z))}
    for arch in archs:
        if fold.protocol not in arch_protocols.get(arch, PROTOCOLS):
            continue
        t0 = time.perf_counter()
        model = fit_family(train, arch=arch, seed=seed, steps=steps)
        train_s = time.perf_counter() - t0
        models[arch] = {"train_seconds": round(train_s, 1), **{
            c: window_metrics(family_labels(model, predict_family(model, t.x)), t.y, t.groups)
            for c, t in tests.items()}}
    for m, r in models.items():
        log(f"  {m}: macro-F1 clean {r['clean']['macro_f1']:.3f}, 0 dB "
            f"{r['snr_0_db']['macro_f1']:.3f}")
    return {"protocol": fold.protocol, "name": fold.name, "models": models,
            "runs": {"train": sorted(fold.train), "test": sorted(fold.test)},
            "train_windows": int(len(train.y)),
            "test_windows": {c: int(len(t.y)) for c, t in tests.items()}}


def run_transfer(datasets_dir: Path | str, archs: Sequence[str] = ("family1d", "family2d"),
                 seed: int = 0, steps: int = DEFAULT_STEPS,
                 protocols: Sequence[str] = PROTOCOLS, log: Log = print,
                 recordings: Sequence[Recording] | None = None,
                 data: FamilyDataset | None = None,
                 arch_protocols: dict[str, tuple[str, ...]] | None = None,
                 threads: int | None = None) -> dict:
    """Every fold of ``protocols`` for the rule and each arch in ``archs`` (restricted by
    ``arch_protocols``, default ``ARCH_PROTOCOLS``; ``{}``: every arch on every fold). Inputs
    of every CWRU + UESTC recording are computed once (or ``data``, built from ``recordings``).
    ``threads``: torch threads while training (1 is fastest on a busy 2-core machine)."""
    arch_protocols = ARCH_PROTOCOLS if arch_protocols is None else arch_protocols
    before = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        return _run(datasets_dir, archs, seed, steps, protocols, log, recordings, data,
                    arch_protocols)
    finally:
        torch.set_num_threads(before)


def _run(datasets_dir: Path | str, archs: Sequence[str], seed: int, steps: int,
         protocols: Sequence[str], log: Log, recordings: Sequence[Recording] | None,
         data: FamilyDataset | None, arch_protocols: dict[str, tuple[str, ...]]) -> dict:
    t_start = time.perf_counter()
    recs = list(recordings) if recordings is not None else default_recordings(datasets_dir)
    if data is None:
        log(f"{len(recs)} recordings (CWRU + UESTC): building inputs once")
        data = family_dataset(recs, seed=seed)
    dataset_s = time.perf_counter() - t_start
    folds = build_transfer_folds(recs, protocols)
    out = []
    for i, fold in enumerate(folds):
        log(f"[{i + 1}/{len(folds)}] {fold.protocol}: {fold.name}")
        out.append(run_fold(data, fold, archs, seed, steps, log, arch_protocols))
    runs = run_table(recs)
    return {
        "kind": "transfer", "seed": seed, "archs": list(archs), "steps": steps,
        "arch_protocols": {a: list(arch_protocols.get(a, protocols)) for a in archs},
        "classes": CLASSES, "conditions": TEST_VARIANTS, "protocols": list(protocols),
        "inputs": int(len(data.y)),
        "variants": {str(v): int((data.variant == v).sum()) for v in np.unique(data.variant)},
        "runs": {g: {"rig": r.rig, "label": r.label, "load_hp": r.load_hp, "rpm": round(r.rpm, 1),
                     "fault_size_in": None if np.isnan(r.fault_size_in) else r.fault_size_in}
                 for g, r in sorted(runs.items())},
        "sources": source_digests(), "dataset_seconds": round(dataset_s, 1),
        "torch_threads": torch.get_num_threads(),
        "folds": out, "seconds": round(time.perf_counter() - t_start, 1),
    }

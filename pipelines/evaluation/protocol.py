"""The honest evaluation protocol behind ``windwatch evaluate``.

Every fold moves whole recordings: a recording (or a time block of the one normal recording)
is in exactly one of train / validation / test, and ``check_fold`` enforces it at run time.

- leave-one-load-out: train on two of the loads 0/1/2 HP, test on the third (3 rotations);
- held-out fault size: train on 0.007" and 0.021", test on 0.014" (all loads);
- noise robustness: every fold's test windows again with white noise at 10, 5 and 0 dB SNR;
- the single normal recording (97.mat, 48 kHz, 5.1 s) is cut by ``split_blocks`` into
  ``N_NORMAL_BLOCKS`` equal time blocks ``GUARD_S`` apart; fold i tests on block i mod n,
  validates on block i+1 mod n and trains on the rest.
Validation (early stopping for the CNN, the L2 strength for the baseline) is grouped by
recording too. The CNN and the baseline see the same windows and the same noise.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch

from pipelines.evaluation.baseline import fit_baseline, window_features
from pipelines.features.inputs import log_spectrogram_inputs, log_spectrum
from pipelines.features.spec import InputSpec
from pipelines.features.windows import windows_at_model_rate
from pipelines.learning.datasets import (
    CLASSES,
    Recording,
    grouped_validation,
    load_cwru,
    load_wind_turbine,
    split_blocks,
    split_by,
)
from pipelines.learning.metrics import evaluate_windows, predict_proba
from pipelines.learning.protocol import NORMAL_STRIDE_S, SPECS, STRIDE_S
from pipelines.learning.training import train

EVAL_NOISE_SNR_DB = (10.0, 5.0, 0.0)
N_NORMAL_BLOCKS = 3
GUARD_S = 0.25
HELD_OUT_SIZE_IN = 0.014
VAL_FRACTION = 0.2
Log = Callable[[str], None]


@dataclass(frozen=True)
class Fold:
    protocol: str
    name: str
    train: list[Recording]
    val: list[Recording]
    test: list[Recording]

    def ids(self) -> dict[str, list[str]]:
        """Sorted recording ids of each side."""
        return {k: sorted(r.recording_id for r in getattr(self, k))
                for k in ("train", "val", "test")}


Split3 = tuple[list[Recording], list[Recording], list[Recording]]


def normal_blocks(normal: Recording, fold_index: int, n_blocks: int = N_NORMAL_BLOCKS,
                  guard_s: float = GUARD_S) -> Split3:
    """(train, val, test) blocks of one normal recording for fold ``fold_index``: test block
    i mod n, validation block i+1 mod n, training the others (rotating over the folds)."""
    if n_blocks < 3:
        raise ValueError("need at least 3 normal blocks: train, validation and test")
    blocks = split_blocks(normal, n_blocks, guard_s)
    k_test, k_val = fold_index % n_blocks, (fold_index + 1) % n_blocks
    train = [b for k, b in enumerate(blocks) if k not in (k_test, k_val)]
    return train, [blocks[k_val]], [blocks[k_test]]


def _load_is(load_hp: int) -> Callable[[Recording], bool]:
    """A test-set predicate: the recording was made at ``load_hp``."""
    return lambda r: r.load_hp == load_hp


def build_protocols(recordings: Sequence[Recording], seed: int = 0,
                    n_normal_blocks: int = N_NORMAL_BLOCKS, guard_s: float = GUARD_S,
                    held_out_size_in: float = HELD_OUT_SIZE_IN) -> list[Fold]:
    """Every fold of every protocol over labelled recordings (faults + normal recordings)."""
    faults = [r for r in recordings if r.label not in (None, "normal")]
    normals = [r for r in recordings if r.label == "normal"]
    specs: list[tuple[str, str, Callable[[Recording], bool]]] = [
        ("leave_one_load_out", f"test load {h} HP", _load_is(h))
        for h in sorted({r.load_hp for r in faults})
    ]
    specs.append(("held_out_fault_size", f'test fault size {held_out_size_in:.3f}"',
                  lambda r: abs(r.fault_size_in - held_out_size_in) < 1e-6))
    folds = []
    for i, (protocol, name, held) in enumerate(specs):
        rest, test = split_by(faults, held)
        if not test or not rest:
            continue
        train, val = grouped_validation(rest, fraction=VAL_FRACTION, seed=seed + i)
        for n in normals:
            ntr, nva, nte = normal_blocks(n, i, n_normal_blocks, guard_s)
            train, val, test = train + ntr, val + nva, test + nte
        folds.append(Fold(protocol, name, train, val, test))
    return folds


def check_fold(fold: Fold, guard_s: float = GUARD_S) -> None:
    """Raise ``ValueError`` if a recording id is on two sides, or if two blocks of one source
    recording on different sides are less than ``guard_s`` apart (or overlap) in time."""
    sides = {k: getattr(fold, k) for k in ("train", "val", "test")}
    where: dict[str, set[str]] = {}
    for side, recs in sides.items():
        for r in recs:
            where.setdefault(r.recording_id, set()).add(side)
    leaked = sorted(rid for rid, s in where.items() if len(s) > 1)
    if leaked:
        raise ValueError(f"{fold.name}: on more than one side: {leaked}")
    spans = [(side, r.source_id, r.start_s, r.start_s + r.duration_s, 1.0 / r.fs_hz)
             for side, recs in sides.items() for r in recs]
    for a_side, a_src, a0, a1, dt in spans:
        for b_side, b_src, b0, b1, _ in spans:
            # Gap between the two intervals (negative if they overlap); one sample of slack
            # for the rounding of the guard to whole samples.
            if a_side < b_side and a_src == b_src and max(a0, b0) - min(a1, b1) < guard_s - dt:
                raise ValueError(f"{fold.name}: {a_src} blocks on {a_side}/{b_side} closer "
                                 f"than {guard_s} s")


def add_white_noise(frames: np.ndarray, snr_db: float | np.ndarray,
                    seed: int | Sequence[int]) -> np.ndarray:
    """``frames`` (B, N) plus zero-mean white Gaussian noise scaled so that each window's SNR
    (window variance / noise mean square) is exactly ``snr_db`` (scalar or per window)."""
    rng = np.random.default_rng(seed)
    x = np.asarray(frames, dtype=np.float32)
    noise = rng.standard_normal(x.shape, dtype=np.float32)
    noise -= noise.mean(axis=1, keepdims=True)
    target = x.var(axis=1, dtype=np.float64) / 10.0 ** (np.asarray(snr_db, float) / 10.0)
    scale = np.sqrt(target / np.mean(noise.astype(np.float64) ** 2, axis=1))
    return x + noise * scale.astype(np.float32)[:, None]


def fold_frames(recordings: Sequence[Recording], spec: InputSpec, stride_s: float,
                normal_stride_s: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Time windows at the model's rate (the windows ``windows_dataset`` turns into inputs):
    frames (M, window_len) float32, y (M,), groups (M,) recording ids, rpm (M,)."""
    xs, ys, gs, rpms = [], [], [], []
    for r in recordings:
        stride = normal_stride_s if r.label == "normal" else stride_s
        if len(r.signal) < spec.min_samples(r.fs_hz):
            continue
        f, _ = windows_at_model_rate(r.signal[None, :], r.fs_hz, spec,
                                     stride=max(1, int(round(stride * spec.fs_hz))))
        xs.append(f)
        ys.append(np.full(len(f), CLASSES.index(cast(str, r.label)), dtype=np.int64))
        gs.append(np.full(len(f), r.recording_id, dtype=object))
        rpms.append(np.full(len(f), r.rpm))
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(gs), np.concatenate(rpms)


def inputs_from_frames(frames: np.ndarray, spec: InputSpec) -> np.ndarray:
    """Model inputs of time windows, exactly as ``features.model_inputs`` computes them."""
    fn = log_spectrum if spec.kind == "spectrum" else log_spectrogram_inputs
    return fn(np.ascontiguousarray(frames, dtype=np.float32), spec)


def _noise_seed(seed: int, fold_index: int, snr_db: float) -> list[int]:
    return [seed, fold_index, int(round(snr_db * 10)) + 1000]


def _conditions(proba_fn: Callable[[np.ndarray], np.ndarray], frames: np.ndarray, y: np.ndarray,
                groups: np.ndarray, seed: int, fold_index: int) -> dict:
    """Metrics on the clean test windows and at every SNR in ``EVAL_NOISE_SNR_DB``."""
    out = {"clean": evaluate_windows(proba_fn(frames), y, groups)}
    for snr in EVAL_NOISE_SNR_DB:
        noisy = add_white_noise(frames, snr, _noise_seed(seed, fold_index, snr))
        out[f"snr_{snr:g}_db"] = evaluate_windows(proba_fn(noisy), y, groups)
    return out


def run_cnn(fold: Fold, fold_index: int, arch: str, seed: int, max_epochs: int | None,
            log: Log) -> dict:
    """Train ``arch`` on the fold (early stopping on its validation recordings), test it."""
    spec, stride_s, normal_s = SPECS[arch], STRIDE_S[arch], NORMAL_STRIDE_S[arch]
    config = {"n_classes": len(CLASSES), "n_bins": spec.n_bins}
    if spec.kind == "spectrogram":
        config["n_frames"] = spec.n_frames
    kw: dict[str, Any] = {"max_epochs": max_epochs} if max_epochs else {}
    t0 = time.perf_counter()
    model, history = train(fold.train, fold.val, spec, arch, config, seed=seed,
                              stride_s=stride_s, normal_stride_s=normal_s,
                              log=lambda m: log(f"    {m}"), **kw)
    train_s = time.perf_counter() - t0
    frames, y, groups, _ = fold_frames(fold.test, spec, stride_s, normal_s)
    res = _conditions(lambda f: predict_proba(model, inputs_from_frames(f, spec)),
                      frames, y, groups, seed, fold_index)
    best = max((h for h in history if h.get("best")), key=lambda h: h["epoch"], default={})
    return {"train_seconds": round(train_s, 1), "epochs": len(history),
            "best_epoch": best.get("epoch"), **res}


def run_baseline(fold: Fold, fold_index: int, seed: int) -> dict:
    """Fit the envelope baseline on the 1-D CNN's windows of the fold, test it."""
    spec, stride_s, normal_s = SPECS["cnn1d"], STRIDE_S["cnn1d"], NORMAL_STRIDE_S["cnn1d"]
    t0 = time.perf_counter()
    xtr, ytr, _, rtr = fold_frames(fold.train, spec, stride_s, normal_s)
    xva, yva, _, rva = fold_frames(fold.val, spec, stride_s, normal_s)
    # As the CNN is trained with a noise-floor augmentation, the baseline gets the training
    # windows once more with white noise at a random SNR (0-30 dB): a fair chance under noise.
    rng = np.random.default_rng([seed, fold_index, 7])
    aug = add_white_noise(xtr, rng.uniform(0.0, 30.0, len(xtr)), [seed, fold_index, 8])
    ftr = window_features(np.concatenate([xtr, aug]), spec.fs_hz, np.concatenate([rtr, rtr]))
    model = fit_baseline(ftr, np.concatenate([ytr, ytr]), window_features(xva, spec.fs_hz, rva),
                         yva, spec.fs_hz, len(CLASSES))
    frames, y, groups, rpm = fold_frames(fold.test, spec, stride_s, normal_s)
    res = _conditions(lambda f: model.predict_proba(f, rpm), frames, y, groups, seed, fold_index)
    return {"train_seconds": round(time.perf_counter() - t0, 1), "l2": model.model.l2, **res}


def run_evaluation(datasets_dir: Path | str, seed: int = 0, archs: Sequence[str] = ("cnn1d",),
                   baseline: bool = True, max_epochs: int | None = None,
                   log: Log = print) -> dict:
    """Every fold of every protocol, for each CNN in ``archs`` and the baseline."""
    t_start = time.perf_counter()
    torch.manual_seed(seed)
    recordings = load_cwru(datasets_dir)
    folds = build_protocols(recordings, seed=seed)
    blocks = [{"recording_id": b.recording_id, "start_s": round(b.start_s, 4),
               "duration_s": round(b.duration_s, 4), "fs_hz": b.fs_hz}
              for r in recordings if r.label == "normal"
              for b in split_blocks(r, N_NORMAL_BLOCKS, GUARD_S)]
    out = []
    for i, fold in enumerate(folds):
        check_fold(fold)
        log(f"[{i + 1}/{len(folds)}] {fold.protocol}: {fold.name}")
        models = {}
        if baseline:
            models["baseline"] = run_baseline(fold, i, seed)
            log(f"  baseline macro-F1 {models['baseline']['clean']['macro_f1']:.4f}")
        for arch in archs:
            models[arch] = run_cnn(fold, i, arch, seed, max_epochs, log)
            log(f"  {arch} macro-F1 {models[arch]['clean']['macro_f1']:.4f} "
                f"({models[arch]['train_seconds']} s)")
        out.append({"protocol": fold.protocol, "name": fold.name, "recordings": fold.ids(),
                    "models": models})
    return {
        "seed": seed, "archs": list(archs), "baseline": baseline, "classes": CLASSES,
        "noise_snr_db": list(EVAL_NOISE_SNR_DB), "n_normal_blocks": N_NORMAL_BLOCKS,
        "guard_s": GUARD_S, "val_fraction": VAL_FRACTION, "normal_blocks": blocks,
        "window_s": {a: SPECS[a].window_s for a in sorted({"cnn1d", *archs})},
        "stride_s": {a: {"fault": STRIDE_S[a], "normal": NORMAL_STRIDE_S[a]}
                     for a in sorted({"cnn1d", *archs})},
        "torch_threads": torch.get_num_threads(), "folds": out,
        "seconds": round(time.perf_counter() - t_start, 1),
    }


def wind_turbine_trend(datasets_dir: Path | str, checkpoint_json: Path | str,
                       accel_to_m_s2: float = 9.80665) -> list[dict]:
    """For each wind-turbine HSS snapshot, oldest first: the production CNN's fault probability
    (1 - p(normal), mean over its windows, as the service computes it) and the condition
    indicators. No label is attached: none was published. The unit is taken to be g."""
    from models.checkpoint import load_checkpoint
    from pipelines.inference.snapshot import analyse_snapshot

    clf = load_checkpoint(checkpoint_json)
    rows = []
    for rec in load_wind_turbine(datasets_dir):
        a = analyse_snapshot(rec.signal[None, :], rec.fs_hz, clf, accel_to_m_s2=accel_to_m_s2)
        stamp = rec.recording_id.removeprefix("data-")
        rows.append({
            "recording_id": rec.recording_id,
            "timestamp_utc": f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:8]}T{stamp[9:11]}:"
                             f"{stamp[11:13]}:{stamp[13:15]}Z",
            "fault_probability": round(a.score, 4), "argmax_label": a.label,
            "probabilities": {c: round(float(p), 4) for c, p in zip(clf.classes, a.probabilities,
                                                                  strict=True)},
            "n_windows": a.n_windows,
            **{k: round(float(a.indicators[k][0]), 4)
               for k in ("rms_accel_m_s2", "kurtosis", "crest_factor")},
        })
    return rows

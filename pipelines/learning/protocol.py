"""The default CWRU protocol behind ``windwatch train`` and the bundled models: the split,
the per-architecture input specs and strides, and ``train_default``."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import torch

from models.checkpoint import save_checkpoint
from pipelines.features.spec import SPECTROGRAM_SPEC, SPECTRUM_SPEC
from pipelines.learning.datasets import (
    CLASSES,
    CWRU_DIR,
    Recording,
    fingerprint,
    grouped_validation,
    load_cwru,
    split_blocks,
    split_by,
)
from pipelines.learning.metrics import evaluate
from pipelines.learning.training import SCHEDULE, Log, train

SPECS = {"cnn1d": SPECTRUM_SPEC, "cnn2d": SPECTROGRAM_SPEC}
# Window strides (s). The normal blocks are ~1.5 s long, so they get a denser stride to give
# the balanced sampler more than a handful of distinct windows (they still overlap heavily).
STRIDE_S = {"cnn1d": 0.1, "cnn2d": 0.1}
NORMAL_STRIDE_S = {"cnn1d": 0.02, "cnn2d": 0.01}


def default_protocol(datasets_dir: Path | str) -> dict[str, list[Recording]]:
    """The quick honest CWRU split: every load-2 HP recording is test; validation is ~1 of
    the 6 load-0/1 recordings per fault class (grouped by recording); the one normal recording
    is cut into 3 time blocks (0.25 s guard): block 0 train, block 1 validation, block 2 test."""
    recs = load_cwru(datasets_dir)
    faults = [r for r in recs if r.label != "normal"]
    normal = [r for r in recs if r.label == "normal"]
    if len(normal) != 1:
        raise ValueError(f"expected exactly one CWRU normal recording, found {len(normal)}")
    n0, n1, n2 = split_blocks(normal[0], 3, guard_s=0.25)
    rest, test = split_by(faults, lambda r: r.load_hp == 2)
    tr, va = grouped_validation(rest, fraction=0.2, seed=0)
    return {"train": tr + [n0], "val": va + [n1], "test": test + [n2]}


PROTOCOL = (
    "CWRU 12 kHz drive-end (DE channel), 4 classes. Test: every load-2 HP recording (9) + "
    "normal block 2, never used for training or model selection. Validation (early stopping): "
    "1 load-0/1 recording per fault class, grouped by recording, + normal block 1. Train: the "
    "other 15 load-0/1 fault recordings + normal block 0. normal_0_97.mat (48 kHz, resampled "
    "to 12 kHz) is cut into 3 equal time blocks 0.25 s apart. Metrics are per window unless "
    "named recording_*; the normal class rests on one healthy run at 0 HP (optimistic)."
)


def train_default(datasets_dir: Path | str, out_stem: Path | str, arch: str = "cnn1d",
                  seed: int = 0, log: Log = print, **schedule: int) -> dict:
    """Train ``arch`` under ``default_protocol``, evaluate on the held-out load, and save a
    checkpoint at ``out_stem`` whose metadata records the test/validation metrics, the files
    and recordings of every split, a fingerprint of the training data and the protocol.

    The saved model is the protocol model itself (no retrain on all loads), so its load-2 HP
    figures stay honest. ``schedule`` overrides ``SCHEDULE[arch]`` (max_epochs, patience,
    max_steps_per_epoch). Returns the metadata as written.
    """
    if arch not in SPECS:
        raise ValueError(f"unknown architecture {arch!r}; choose one of {sorted(SPECS)}")
    spec, stride_s, normal_s = SPECS[arch], STRIDE_S[arch], NORMAL_STRIDE_S[arch]
    sets = default_protocol(datasets_dir)
    t0 = time.perf_counter()
    config = {"n_classes": len(CLASSES), "n_bins": spec.n_bins}
    if spec.kind == "spectrogram":
        config["n_frames"] = spec.n_frames
    sched: dict[str, Any] = {**SCHEDULE[arch], **schedule}
    model, history = train(sets["train"], sets["val"], spec, arch, config, seed=seed,
                           stride_s=stride_s, normal_stride_s=normal_s, log=log, **sched)
    train_s = time.perf_counter() - t0
    dense = {"normal": normal_s}
    metrics = {name: evaluate(model, sets[name], spec, stride_s, dense)
               for name in ("test", "val")}
    test = metrics["test"]
    log(f"test (load 2 HP): window accuracy {test['accuracy']:.4f}, macro-F1 "
        f"{test['macro_f1']:.4f}, recording accuracy {test['recording_accuracy']:.4f}")
    seen = sets["train"] + sets["val"]
    meta = {
        "classes": CLASSES,
        "input_spec": spec.to_dict(),
        "metrics": metrics,
        "training_data": {
            "dataset": CWRU_DIR,
            "protocol": PROTOCOL,
            "files": sorted({r.file for r in seen}),
            "splits": {k: sorted(r.recording_id for r in v) for k, v in sets.items()},
            "fingerprint": fingerprint(seen),
            "test_fingerprint": fingerprint(sets["test"]),
            "window_stride_s": {"default": stride_s, "normal": normal_s},
            "windows": {k: v["n_windows"] for k, v in metrics.items()},
            "augmentation": "frequency stretch 0.97-1.03, noise floor (p=0.5), spectral tilt",
            "sampling": "class-balanced",
            "seed": seed,
            "schedule": sched,
            "train_seconds": round(train_s, 1),
            "torch_threads": torch.get_num_threads(),
            "history": history,
        },
    }
    save_checkpoint(model, meta, out_stem)
    stem = Path(out_stem)
    return json.loads(stem.with_name(stem.name + ".json").read_text())

"""Training the defect-family models (``family1d`` / ``family2d``) on recordings of several rigs.

Every window becomes several inputs, each a physically meaningful variation:
- the recording's own geometry and speed, and the speed jittered by ~1 % (slip, tach error);
- white noise at 20, 10, 5 and 0 dB SNR (added to the signal, before any processing);
- *geometry probes*: the families that are NOT the recording's fault read at orders of a random
  plausible bearing (7-19 elements, d/D 0.15-0.35). A healthy recording read at random orders
  is still healthy; an outer-race recording stays outer race as long as BPFO is its own. This
  teaches the shared scorer what a defect comb is, not where one rig happens to have lines.
Seeded throughout; CPU only; a few minutes on 2 cores.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from models.checkpoint import build_model, save_checkpoint
from models.family_head import decides_in_two_stages, two_stage_labels
from pipelines.dsp.kinematics import BEARINGS, BearingGeometry
from pipelines.features.defect_orders import defect_order_inputs
from pipelines.features.spec import DEFECT_ORDER_SPEC, InputSpec
from pipelines.learning.augmentation import add_white_noise
from pipelines.learning.datasets import (
    CLASSES,
    CWRU_DIR,
    UESTC_DIR,
    Recording,
    fingerprint,
    load_cwru,
    load_uestc,
)
from pipelines.learning.training import Log

FAULT_FAMILY = {"inner_race": "BPFI", "outer_race": "BPFO", "ball": "BSF"}
NOISE_SNR_DB = (20.0, 10.0, 5.0, 0.0)
STRIDE_S = 0.5
DEFAULT_STEPS = 2000


@dataclass
class FamilyDataset:
    """Inputs (M, F, R, L), labels (M,), recording ids (M,), augmentation tag (M,)."""

    x: np.ndarray
    y: np.ndarray
    groups: np.ndarray
    variant: np.ndarray

    def select(self, mask: np.ndarray) -> FamilyDataset:
        """The rows where ``mask`` is true."""
        return FamilyDataset(self.x[mask], self.y[mask], self.groups[mask], self.variant[mask])


def recording_orders(rec: Recording) -> dict[str, float]:
    """The defect orders of the bearing a recording was made on."""
    if rec.bearing is None or rec.bearing not in BEARINGS:
        raise ValueError(f"{rec.recording_id}: no known bearing geometry ({rec.bearing!r})")
    return BEARINGS[rec.bearing].geometry.defect_orders()


def random_orders(rng: np.random.Generator) -> dict[str, float]:
    """Defect orders of a random plausible rolling-element bearing."""
    n = int(rng.integers(7, 20))
    ratio = float(rng.uniform(0.15, 0.35))
    return BearingGeometry(n, ratio, 1.0, 0.0).defect_orders()


def signal_inputs(signal: np.ndarray, fs_hz: float, shaft_hz: float, orders: dict[str, float],
                  label: str | None, spec: InputSpec, rng: np.random.Generator, augment: bool,
                  stride_s: float = STRIDE_S) -> tuple[np.ndarray, list[str]]:
    """All windows of one (N,) signal read at ``orders`` and ``shaft_hz``, clean and
    (``augment``) in every variant, with tags; ``label`` decides which family the geometry
    probes keep."""
    variants: list[tuple[str, np.ndarray, float, dict[str, float]]] = [
        ("clean", signal, shaft_hz, orders)]
    if augment:
        def jitter() -> float:
            return shaft_hz * (1.0 + rng.normal(0.0, 0.01))

        variants.append(("speed", signal, jitter(), orders))
        for snr in NOISE_SNR_DB:
            variants.append((f"noise{snr:g}", add_white_noise(signal, snr, rng), jitter(),
                             orders))
        keep = FAULT_FAMILY.get(str(label))
        for k in range(3):
            probe = {f: (v if f == keep else random_orders(rng)[f]) for f, v in orders.items()}
            sig = add_white_noise(signal, 10.0, rng) if k == 2 else signal
            variants.append(("geometry", sig, jitter(), probe))
    xs, tags = [], []
    for tag, sig, f_hz, o in variants:
        x, _, _ = defect_order_inputs(sig[None, :], fs_hz, spec, f_hz, o, stride_s=stride_s)
        xs.append(x)
        tags += [tag] * len(x)
    return np.concatenate(xs), tags


def recording_inputs(rec: Recording, spec: InputSpec, rng: np.random.Generator,
                     augment: bool, stride_s: float = STRIDE_S) -> tuple[np.ndarray, list[str]]:
    """All windows of one recording, clean and (``augment``) in every variant, with tags."""
    return signal_inputs(rec.signal, rec.fs_hz, rec.rpm / 60.0, recording_orders(rec), rec.label,
                         spec, rng, augment, stride_s)


def family_dataset(recordings: Sequence[Recording], spec: InputSpec = DEFECT_ORDER_SPEC,
                   seed: int = 0, augment: bool = True, log: Log | None = None
                   ) -> FamilyDataset:
    """Inputs of every window of every labelled recording (see the module docstring)."""
    rng = np.random.default_rng(seed)
    xs, ys, gs, vs = [], [], [], []
    for i, rec in enumerate(recordings):
        if rec.label not in CLASSES:
            continue
        x, tags = recording_inputs(rec, spec, rng, augment)
        xs.append(x)
        ys.append(np.full(len(x), CLASSES.index(rec.label)))
        gs.append(np.full(len(x), rec.run_id or rec.recording_id, dtype=object))
        vs.append(np.array(tags, dtype=object))
        if log and (i + 1) % 10 == 0:
            log(f"  inputs: {i + 1}/{len(recordings)} recordings")
    return FamilyDataset(np.concatenate(xs), np.concatenate(ys).astype(np.int64),
                         np.concatenate(gs), np.concatenate(vs))


def fit_family(data: FamilyDataset, arch: str = "family1d", seed: int = 0, steps: int = DEFAULT_STEPS,
               batch_size: int = 128, lr: float = 3e-3, log: Log | None = None,
               config: dict | None = None) -> nn.Module:
    """Seeded Adam on class-weighted cross-entropy; returns the model in eval mode.
    ``config``: architecture options over the defaults (e.g. an older head, for comparison)."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = build_model(arch, {"n_classes": len(CLASSES), **(config or {})})
        opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=1e-4)
        x, y = torch.from_numpy(data.x), torch.from_numpy(data.y)
        counts = np.bincount(data.y, minlength=len(CLASSES)).astype(np.float64)
        weight = torch.tensor(counts.sum() / np.maximum(counts, 1) / len(CLASSES),
                              dtype=torch.float32)
        gen = torch.Generator().manual_seed(seed)
        model.train()
        for step in range(steps):
            idx = torch.randint(0, len(y), (batch_size,), generator=gen)
            loss = nn.functional.cross_entropy(model(x[idx]), y[idx], weight=weight)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if log and (step + 1) % 200 == 0:
                log(f"  step {step + 1}/{steps}  loss {loss.item():.4f}")
    return model.eval()


def family_labels(model: nn.Module, proba: np.ndarray) -> np.ndarray:
    """(M, 4) probabilities of ``model`` -> class indices, decided as the model serves them
    (detection then diagnosis for fixed-detection heads, else the argmax)."""
    return two_stage_labels(proba) if decides_in_two_stages(model) else proba.argmax(-1)


def predict_family(model: nn.Module, x: np.ndarray, batch_size: int = 512) -> np.ndarray:
    """(M, F, R, L) -> (M, 4) softmax probabilities."""
    with torch.inference_mode():
        t = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
        return torch.cat([torch.softmax(model(c), 1) for c in t.split(batch_size)]).numpy()


def default_recordings(datasets_dir: Path | str) -> list[Recording]:
    """The reference training set of the default defect-family models: CWRU and UESTC."""
    return load_cwru(datasets_dir) + load_uestc(datasets_dir)


def train_default_family(datasets_dir: Path | str, out_stem: Path | str,
                         arch: str = "family1d", seed: int = 0, steps: int = DEFAULT_STEPS,
                         log: Log = print) -> dict:
    """Train ``arch`` on every CWRU and UESTC recording (both rigs) and save a checkpoint whose
    metadata lists the data (files, per-class windows, fingerprint) and the recipe. Honest
    figures come from the evaluation protocol (leave-one-rig-out and the rest), not from here:
    this model has seen every recording."""
    t0 = time.perf_counter()
    recs = default_recordings(datasets_dir)
    log(f"{len(recs)} recordings (CWRU + UESTC): building inputs")
    data = family_dataset(recs, seed=seed, log=log)
    log(f"{len(data.y)} inputs; training {arch} for {steps} steps")
    model = fit_family(data, arch=arch, seed=seed, steps=steps, log=log)
    clean = data.variant == "clean"
    acc = float(np.mean(family_labels(model, predict_family(model, data.x[clean]))
                        == data.y[clean]))
    counts = np.bincount(data.y[clean], minlength=len(CLASSES))
    meta = {
        "classes": CLASSES,
        "input_spec": DEFECT_ORDER_SPEC.to_dict(),
        "metrics": {"train_clean_window_accuracy": round(acc, 4),
                    "note": "seen data; see docs/evaluation/report.md for held-out figures"},
        "training_data": {
            "datasets": [CWRU_DIR, UESTC_DIR],
            "files": sorted({f"{r.rig}/{r.file}" for r in recs}),
            "bearings": sorted({str(r.bearing) for r in recs}),
            "fingerprint": fingerprint(recs),
            "class_windows": {c: int(n) for c, n in zip(CLASSES, counts, strict=True)},
            "inputs": int(len(data.y)),
            "window_s": DEFECT_ORDER_SPEC.window_seconds, "stride_s": STRIDE_S,
            "augmentation": "speed jitter 1 %, white noise 20/10/5/0 dB, geometry probes x3",
            "seed": seed, "steps": steps,
            "train_seconds": round(time.perf_counter() - t0, 1),
            "torch_threads": torch.get_num_threads(),
        },
    }
    save_checkpoint(model, meta, out_stem)
    stem = Path(out_stem)
    return json.loads(stem.with_name(stem.name + ".json").read_text())

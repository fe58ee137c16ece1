"""Training data from a fleet's labelled snapshots, beside the reference recordings.

A ``LabelledSnapshot`` is one stored snapshot whose class a person confirmed (alarm feedback)
or an import set: its (C, N) samples, the shaft context the service reads it with (registered
defect orders, rpm) and the group it belongs to (its turbine: splits never cut a turbine).
Each channel becomes windows in every augmentation variant of ``family_training``, read at the
sensor's own defect orders and the speed the ingest would use, so the model learns from the
fleet exactly what it will later be asked about.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from pipelines.features.spec import DEFECT_ORDER_SPEC, InputSpec
from pipelines.inference.shaft import ShaftContext, resolve_speed
from pipelines.learning.datasets import CLASSES, Recording
from pipelines.learning.family_training import FamilyDataset, family_dataset, signal_inputs

FLEET_SHARE = 1 / 3
MAX_CHANNELS = 3  # a snapshot's first channels; more add near-duplicates, not information


@dataclass(frozen=True, eq=False)
class LabelledSnapshot:
    """One labelled snapshot of a fleet sensor (or a segment of a reference recording)."""

    ident: str  # e.g. "batch:123"
    x: np.ndarray  # (C, N) float32
    fs_hz: float
    shaft: ShaftContext
    label: str
    group: str  # the turbine (fleet) or run (reference)
    sha256: str = ""


def snapshot_dataset(snaps: Sequence[LabelledSnapshot], spec: InputSpec = DEFECT_ORDER_SPEC,
                     seed: int = 0, augment: bool = True) -> FamilyDataset:
    """Inputs of every window of every channel of every snapshot (see the module docstring)."""
    rng = np.random.default_rng([seed, 1])
    xs, ys, gs, vs = [], [], [], []
    for s in snaps:
        if s.label not in CLASSES:
            continue
        shaft_hz = resolve_speed(s.x, s.fs_hz, s.shaft).shaft_hz
        for c in range(min(len(s.x), MAX_CHANNELS)):
            x, tags = signal_inputs(s.x[c], s.fs_hz, shaft_hz, s.shaft.orders(), s.label, spec,
                                    rng, augment)
            xs.append(x)
            ys.append(np.full(len(x), CLASSES.index(s.label)))
            gs.append(np.full(len(x), s.group, dtype=object))
            vs.append(np.array(tags, dtype=object))
    if not xs:
        return empty_dataset(spec)
    return FamilyDataset(np.concatenate(xs), np.concatenate(ys).astype(np.int64),
                         np.concatenate(gs), np.concatenate(vs))


def empty_dataset(spec: InputSpec = DEFECT_ORDER_SPEC) -> FamilyDataset:
    """A dataset with no rows (of the defect-order input shape)."""
    from pipelines.features.defect_orders import FAMILIES, N_ROWS

    shape = (0, len(FAMILIES), N_ROWS, spec.n_cells)
    return FamilyDataset(np.zeros(shape, np.float32), np.zeros(0, np.int64),
                         np.zeros(0, dtype=object), np.zeros(0, dtype=object))


def concat(parts: Sequence[FamilyDataset]) -> FamilyDataset:
    """The rows of several datasets, in order."""
    parts = [p for p in parts if len(p.y)]
    if not parts:
        return empty_dataset()
    return FamilyDataset(np.concatenate([p.x for p in parts]), np.concatenate([p.y for p in parts]),
                         np.concatenate([p.groups for p in parts]),
                         np.concatenate([p.variant for p in parts]))


def training_dataset(reference: Sequence[Recording], fleet: Sequence[LabelledSnapshot],
                     seed: int = 0, fleet_share: float = FLEET_SHARE) -> FamilyDataset:
    """Reference recordings and fleet snapshots, every one in all augmentation variants; the
    fleet rows repeated until they are at least ``fleet_share`` of the rows, so that a handful
    of confirmed faults is not drowned by thousands of reference windows."""
    ref = family_dataset(reference, seed=seed) if reference else empty_dataset()
    own = snapshot_dataset(fleet, seed=seed)
    if len(own.y) and len(ref.y):
        want = fleet_share / (1.0 - fleet_share) * len(ref.y)
        own = own.select(np.arange(max(len(own.y), int(np.ceil(want)))) % len(own.y))
    return concat([ref, own])


def class_counts(data: FamilyDataset, variant: str = "clean") -> dict[str, int]:
    """Windows per class among the rows of one variant (default the un-augmented ones)."""
    counts = np.bincount(data.y[data.variant == variant], minlength=len(CLASSES))
    return {c: int(n) for c, n in zip(CLASSES, counts, strict=True)}


def holdout_groups(groups: Sequence[str], fraction: float) -> list[str]:
    """A deterministic ``fraction`` of ``groups`` (at least one when there are two or more,
    never all): the ones whose sha256 sorts first, so the same turbines are held out by every
    retrain and a champion never saw the hold-out its challenger is judged on."""
    names = sorted(set(groups), key=lambda g: hashlib.sha256(g.encode()).hexdigest())
    if len(names) < 2 or fraction <= 0:
        return []
    k = min(len(names) - 1, max(1, round(fraction * len(names))))
    return sorted(names[:k])

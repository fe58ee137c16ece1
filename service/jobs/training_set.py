"""The retrain's data: the reference datasets it uses (a small catalogue) and every labelled
batch of the fleet, split by turbine into training and the fleet hold-out, with fingerprints.

Labels come from alarm feedback (``label_source = "alarm:<id>"``: a confirmed fault type, or
``normal`` for a false alarm, set by the operator who closed the alarm) and from imports
(``labels.csv``). Only classes the models know are used.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipelines.inference.shaft import ShaftContext
from pipelines.learning.datasets import (
    CLASSES,
    CWRU_DIR,
    UESTC_DIR,
    Recording,
    fingerprint,
    load_cwru,
    load_uestc,
)
from pipelines.learning.fleet_training import LabelledSnapshot, holdout_groups
from service.batches.storage import RawStore, read_parquet
from service.batches.tables import Batch
from service.components import service as components
from service.turbines.tables import Sensor, Turbine

REFERENCE: dict[str, tuple[str, Callable[..., list[Recording]]]] = {
    "cwru": (CWRU_DIR, load_cwru), "uestc": (UESTC_DIR, load_uestc)}
EMPTY = hashlib.sha256(b"").hexdigest()


@dataclass(frozen=True)
class LabelledBatch:
    """A labelled batch's identity (what the fingerprint covers) and where to read it."""

    batch_id: int
    turbine: str
    sensor: str
    raw_uri: str
    raw_sha256: str
    label: str
    label_source: str
    sample_rate_hz: float
    rpm: float | None

    @property
    def source_kind(self) -> str:
        """``alarm`` (feedback) or the label source as stored (e.g. ``labels.csv``: import)."""
        return "alarm" if self.label_source.startswith("alarm:") else self.label_source


@dataclass
class TrainingSet:
    """Everything a retrain reads, split by turbine, with the catalogue and fingerprints."""

    reference: list[Recording]
    catalogue: list[dict]
    train_batches: list[LabelledBatch]
    holdout_batches: list[LabelledBatch]
    holdout_turbines: list[str]
    fleet_fingerprint: str
    fingerprint: str
    skipped: dict[str, int] = field(default_factory=dict)


def labelled_batches(session: Session) -> list[LabelledBatch]:
    """Every batch labelled by alarm feedback or by import, with a class the models know."""
    rows = session.execute(
        select(Batch, Turbine.name, Sensor.name).join(Turbine, Turbine.id == Batch.turbine_id)
        .join(Sensor, Sensor.id == Batch.sensor_id)
        .where(Batch.label.in_(CLASSES), Batch.label_source.is_not(None))
        .order_by(Batch.id)).all()
    return [LabelledBatch(b.id, t, s, b.raw_uri, b.raw_sha256, str(b.label), str(b.label_source),
                          b.sample_rate_hz, b.rpm) for b, t, s in rows]


def fleet_fingerprint(batches: Sequence[LabelledBatch]) -> str:
    """sha256 over the sorted (batch id, raw sha256, label) of the labelled fleet data; the
    empty set has the sha256 of nothing."""
    h = hashlib.sha256()
    for b in sorted(batches, key=lambda b: b.batch_id):
        h.update(f"batch|{b.batch_id}|{b.raw_sha256}|{b.label}\n".encode())
    return h.hexdigest()


def build(session: Session, datasets_dir, datasets: Sequence[str], holdout_fraction: float
          ) -> TrainingSet:
    """Load the reference datasets, collect the labelled batches and split them by turbine."""
    reference, catalogue = [], []
    for key in datasets:
        folder, loader = REFERENCE[key]
        recs = loader(datasets_dir)
        reference += recs
        catalogue.append({"dataset": folder, "recordings": len(recs),
                          "files": sorted({r.file for r in recs}), "fingerprint": fingerprint(recs)})
    labelled = labelled_batches(session)
    held = set(holdout_groups([b.turbine for b in labelled], holdout_fraction))
    fleet_fp = fleet_fingerprint(labelled)
    h = hashlib.sha256()
    for entry in catalogue:
        h.update(f"dataset|{entry['dataset']}|{entry['fingerprint']}\n".encode())
    h.update(f"fleet|{fleet_fp}\n".encode())
    return TrainingSet(reference, catalogue, [b for b in labelled if b.turbine not in held],
                       [b for b in labelled if b.turbine in held], sorted(held), fleet_fp,
                       h.hexdigest())


def snapshots(session: Session, store: RawStore, batches: Sequence[LabelledBatch]
              ) -> tuple[list[LabelledSnapshot], int]:
    """The labelled batches as snapshots read at their sensors' registered geometry; fault
    labels on sensors without geometry are left out (the family cannot be read without it).
    Returns (snapshots, number left out)."""
    shafts: dict[tuple[str, str], ShaftContext] = {}
    out, left_out = [], 0
    for b in batches:
        key = (b.turbine, b.sensor)
        if key not in shafts:
            shafts[key] = components.shaft_context(session=session, turbine_name=b.turbine,
                                                   sensor_name=b.sensor, rpm=None)
        shaft = replace(shafts[key], rpm=b.rpm)
        if shaft.geometry == "assumed" and b.label != "normal":
            left_out += 1
            continue
        try:
            x, _, _ = read_parquet(store.path(b.raw_uri))
        except (OSError, ValueError):
            left_out += 1
            continue
        out.append(LabelledSnapshot(f"batch:{b.batch_id}", x, b.sample_rate_hz, shaft, b.label,
                                    b.turbine, b.raw_sha256))
    return out, left_out


def summary(batches: Sequence[LabelledBatch]) -> dict:
    """Counts of labelled batches: per class, per source kind, turbines."""
    by_class = {c: sum(b.label == c for b in batches) for c in CLASSES}
    kinds = sorted({b.source_kind for b in batches})
    return {"batches": len(batches), "per_class": by_class,
            "by_source": {k: sum(b.source_kind == k for b in batches) for k in kinds},
            "turbines": sorted({b.turbine for b in batches})}

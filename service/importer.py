"""``windwatch import``: recordings on disk become batches, through the same pipeline as the API.

Reads the CWRU and wind-turbine ``.mat`` files described by the ``labels.csv`` next to them, so
the sample rate (48 kHz for CWRU 97.mat!), load and label come from the provenance table, not
from guesses. Recordings without a timestamp get consecutive 10-minute slots from a fixed epoch,
so re-importing produces the same idempotency keys and stores nothing twice.
"""

from __future__ import annotations

import csv
import hashlib
import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import scipy.io

from service.batches import service as batches
from service.batches.decode import DecodedBatch
from service.batches.schemas import BatchMeta
from service.batches.storage import RawStore
from service.db import get_engine, session_factory
from service.registry.runtime import ModelRuntime
from service.settings import Settings

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
CWRU_LABELS = {"none": "normal", "inner_race": "inner_race", "outer_race": "outer_race", "ball": "ball"}


Loaded = tuple[np.ndarray, float, float | None, str | None, datetime | None]


def read_recording(path: Path, row: dict[str, str]) -> Loaded:
    """(samples (1, N) float32, fs_hz, rpm, label, recorded_at) of one labelled .mat file."""
    mat = scipy.io.loadmat(path)
    fs = float(row["fs_hz"])
    if "vibration" in mat:  # wind-turbine HSS: timestamped, unlabelled run to failure
        x = mat["vibration"].ravel()
        ts = datetime.strptime(row["timestamp_utc"], "%Y%m%dT%H%M%S").replace(tzinfo=UTC)
        return x[None].astype(np.float32), fs, None, None, ts
    num = int(row["cwru_file_no"])
    x = mat[f"X{num:03d}_DE_time"].ravel()
    label = CWRU_LABELS[row["fault_location"]]
    return x[None].astype(np.float32), fs, float(row["rpm_in_file"]), label, None


def import_folder(settings: Settings, folder: Path, *, turbine: str, sensor: str,
                  echo: Callable[[str], object] = print, factory=None, store: RawStore | None = None,  # noqa: ANN001
                  ) -> int:
    """Import every recording listed in ``folder/labels.csv``; returns how many were stored."""
    with open(Path(folder) / "labels.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    factory = factory or session_factory(get_engine(settings.database_url))
    runtime, store = ModelRuntime(settings), store or RawStore(settings.data_root)
    slots = threading.Semaphore(1)
    for i, row in enumerate(sorted(rows, key=lambda r: r["file"])):
        x, fs, rpm, label, ts = read_recording(Path(folder) / row["file"], row)
        recorded_at = ts or EPOCH + timedelta(minutes=10 * i)
        meta = BatchMeta(sensor=sensor, sample_rate_hz=fs, recorded_at=recorded_at, rpm=rpm, unit="g")
        decoded = DecodedBatch(meta=meta, channel_names=["de"], samples=np.ascontiguousarray(x))
        key = "import:" + re.sub(r"[^A-Za-z0-9_.@:-]", "_", row["file"])
        with factory() as session:
            res = batches.ingest(
                session=session, settings=settings, store=store, runtime=runtime,
                turbine_name=turbine, decoded=decoded, content_type="application/x-matlab",
                body_sha256=hashlib.sha256(x.tobytes()).hexdigest(), idempotency_key=key,
                cpu_slots=slots, label=label, label_source="labels.csv" if label else None,
            )
            p = res.prediction
            echo(f"{row['file']:<36} label={label or '-':<11} predicted={p.label:<11} "
                 f"p_fault={p.score:.3f}{'  (already stored)' if res.replayed else ''}")
    return len(rows)

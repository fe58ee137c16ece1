"""``windwatch import``: recordings on disk become batches, through the same pipeline as the API.

Reads the CWRU and wind-turbine ``.mat`` files described by the ``labels.csv`` next to them, so
the sample rate (48 kHz for CWRU 97.mat!), load and label come from the provenance table, not
from guesses. Recordings without a timestamp get consecutive 10-minute slots from a fixed epoch,
so re-importing produces the same idempotency keys and stores nothing twice.
"""

from __future__ import annotations

import hashlib
import math
import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from pipelines.learning.datasets import read_labelled_file, read_labels
from service.batches import service as batches
from service.batches.decode import DecodedBatch
from service.batches.schemas import BatchMeta
from service.batches.storage import RawStore
from service.db import get_engine, session_factory
from service.registry.runtime import ModelRuntime
from service.settings import Settings

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def import_folder(settings: Settings, folder: Path, *, turbine: str, sensor: str,
                  echo: Callable[[str], object] = print, factory=None, store: RawStore | None = None,
                  ) -> int:
    """Import every recording listed in ``folder/labels.csv``; returns how many were stored."""
    rows = read_labels(folder)
    factory = factory or session_factory(get_engine(settings.database_url))
    runtime, store = ModelRuntime(settings), store or RawStore(settings.data_root)
    slots = threading.Semaphore(1)
    for i, row in enumerate(sorted(rows, key=lambda r: r["file"])):
        rec = read_labelled_file(folder, row)
        x, label = rec.signal[None], rec.label
        recorded_at = rec.recorded_at or EPOCH + timedelta(minutes=10 * i)
        rpm = None if math.isnan(rec.rpm) else rec.rpm
        meta = BatchMeta(sensor=sensor, sample_rate_hz=rec.fs_hz, recorded_at=recorded_at, rpm=rpm,
                         unit="g")
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

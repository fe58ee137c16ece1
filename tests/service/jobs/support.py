"""Helpers of the job-kind tests: a real job row and its context, and snapshots stored through
the real ingest path (raw file, batch, indicators, served prediction)."""

from __future__ import annotations

import hashlib
import threading
from datetime import UTC, datetime, timedelta

import numpy as np
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from service.batches import service as batches
from service.batches.decode import DecodedBatch
from service.batches.schemas import BatchMeta
from service.batches.storage import RawStore
from service.db import utcnow
from service.jobs.context import JobContext
from service.jobs.service import start
from service.jobs.tables import RUNNING, SUCCEEDED, Job
from service.predictions.tables import Prediction
from service.registry.runtime import ModelRuntime
from service.registry.tables import ModelVersion
from service.settings import Settings

T0 = datetime(2026, 6, 1, tzinfo=UTC)


def job_context(settings: Settings, session_factory: sessionmaker[Session], kind: str,
                params: dict) -> JobContext:
    """A running job of ``kind`` (its params validated by the jobs service) and its context; an
    earlier job of that kind still running (one per kind at a time) is marked succeeded."""
    with session_factory() as s:
        job = start(session=s, kind=kind, params=params, started_by="test", source="api")
        s.execute(update(Job).where(Job.kind == kind, Job.state == RUNNING)
                  .values(state=SUCCEEDED, finished_at=utcnow()))
        s.execute(update(Job).where(Job.id == job.id).values(
            state=RUNNING, holder="test", started_at=utcnow(), heartbeat_at=utcnow()))
        s.commit()
        job_id = job.id
    return JobContext(job_id=job_id, settings=settings, session_factory=session_factory,
                      started_by="test")


def version_id(session_factory: sessionmaker[Session], name: str) -> int:
    """The id of the registered model version called ``name``."""
    with session_factory() as s:
        return int(s.scalar(select(ModelVersion.id).where(ModelVersion.name == name)))


def synthetic(seed: int, fs_hz: float = 12_800.0, seconds: float = 1.2) -> np.ndarray:
    """A small one-channel snapshot in g: shaft harmonics, a faint comb, noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(fs_hz * seconds)) / fs_hz
    x = sum(0.05 / k * np.sin(2 * np.pi * 25.0 * k * t + k) for k in (1, 2, 3))
    x = x + 0.01 * (seed % 3) * np.sin(2 * np.pi * 89.3 * t) ** 8
    return (x + 0.02 * rng.standard_normal(len(t)))[None, :].astype(np.float32)


def store_snapshot(settings: Settings, session_factory: sessionmaker[Session], runtime: ModelRuntime,
                   turbine: str, x: np.ndarray, recorded_at: datetime, fs_hz: float,
                   rpm: float | None, sensor: str = "main_bearing", label: str | None = None,
                   label_source: str | None = None) -> int:
    """Store one snapshot through ``batches.ingest``; returns the batch id."""
    meta = BatchMeta(sensor=sensor, sample_rate_hz=fs_hz, recorded_at=recorded_at, rpm=rpm, unit="g")
    decoded = DecodedBatch(meta=meta, channel_names=[f"ch{i}" for i in range(len(x))],
                           samples=np.ascontiguousarray(x))
    with session_factory() as s:
        res = batches.ingest(
            session=s, settings=settings, store=RawStore(settings.data_root), runtime=runtime,
            turbine_name=turbine, decoded=decoded, content_type="application/x-npy",
            body_sha256=hashlib.sha256(x.tobytes()).hexdigest(), idempotency_key=None,
            cpu_slots=threading.Semaphore(1), label=label, label_source=label_source)
        return res.batch.id


def store_fleet(settings: Settings, session_factory: sessionmaker[Session], n: int,
                turbines: tuple[str, ...] = ("BF-1", "BF-2", "BF-3")) -> list[int]:
    """``n`` synthetic snapshots, ten minutes apart from ``T0``, round-robin over turbines."""
    runtime = ModelRuntime(settings)
    return [store_snapshot(settings, session_factory, runtime, turbines[i % len(turbines)],
                           synthetic(i), T0 + timedelta(minutes=10 * i), 12_800.0, 1500.0)
            for i in range(n)]


def predictions_of(session_factory: sessionmaker[Session], version: int) -> dict[int, Prediction]:
    """batch id -> the prediction of model version ``version``."""
    with session_factory() as s:
        rows = s.scalars(select(Prediction).where(Prediction.model_version_id == version)).all()
        out: dict[int, Prediction] = {}
        for p in rows:
            assert p.batch_id not in out, f"two predictions of batch {p.batch_id} by v{version}"
            out[p.batch_id] = p
        return out

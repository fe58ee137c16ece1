"""Backfill throughput (stored snapshots re-scored per second) in-process and on a local Ray,
beside the ingest path's own throughput (which also computes indicators and detection and
writes every row), and the wall time of a retrain on the default data (CWRU + UESTC, default
steps, plus the benchmark's import-labelled snapshots).

    .venv/bin/python bench/backfill.py [--snapshots 300] [--steps 2000] [--skip-retrain]

Everything runs on a fresh SQLite database under a temporary folder; the snapshots are
simulated drivetrain snapshots (1 channel, 25.6 kHz, 4 s) stored through the real ingest.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select, update

from service.batches import service as batches
from service.batches.decode import DecodedBatch
from service.batches.schemas import BatchMeta
from service.batches.storage import RawStore
from service.db import get_engine, session_factory, utcnow
from service.jobs.context import JobContext
from service.jobs.kinds import backfill, retrain
from service.jobs.tables import RUNNING, SUCCEEDED, Job
from service.migrate import migrate_and_seed
from service.registry.runtime import ModelRuntime
from service.registry.tables import ModelVersion
from service.settings import REPO_ROOT, Settings
from simulation.drivetrain import demo_fleet, simulate_snapshot

T0 = datetime(2026, 3, 1, tzinfo=UTC)
FS, SECONDS = 25_600.0, 4.0


def _context(settings: Settings, factory, kind: str, params: dict) -> JobContext:
    with factory() as s:  # one running job per kind: the previous run counts as finished
        s.execute(update(Job).where(Job.kind == kind, Job.state == RUNNING).values(state=SUCCEEDED))
        job = Job(kind=kind, params=params, state=RUNNING, started_by="bench", source="cli",
                  progress=0.0, log_tail="", cancel_requested=False, created_at=utcnow(),
                  started_at=utcnow(), heartbeat_at=utcnow(), holder="bench")
        s.add(job)
        s.commit()
        return JobContext(job_id=job.id, settings=settings, session_factory=factory,
                          started_by="bench")


def ingest(settings: Settings, factory, n: int) -> float:
    """Store ``n`` simulated snapshots through ``batches.ingest``; snapshots per second."""
    runtime, store, slots = ModelRuntime(settings), RawStore(settings.data_root), threading.Semaphore(1)
    fleet = demo_fleet(4)
    snaps = []
    for i in range(n):
        spec = fleet[i % len(fleet)]
        x, meta = simulate_snapshot(spec.drivetrain, fs_hz=FS, duration_s=SECONDS, n_channels=1, seed=i)
        snaps.append((spec.turbine_id, x, meta["rpm"]))
    t0 = time.perf_counter()
    for i, (turbine, x, rpm) in enumerate(snaps):
        meta = BatchMeta(sensor="gearbox_hss", sample_rate_hz=FS, unit="g", rpm=rpm,
                         recorded_at=T0 + timedelta(minutes=10 * i))
        decoded = DecodedBatch(meta=meta, channel_names=["x"], samples=x)
        with factory() as s:  # the first turbines' snapshots carry an imported label
            batches.ingest(session=s, settings=settings, store=store, runtime=runtime,
                           turbine_name=turbine, decoded=decoded, content_type="application/x-npy",
                           body_sha256=f"{i:064x}", idempotency_key=None, cpu_slots=slots,
                           label="normal" if i % 4 < 3 else None,
                           label_source="labels.csv" if i % 4 < 3 else None)
    return n / (time.perf_counter() - t0)


def run_backfill(settings: Settings, factory, version: int, n: int) -> dict:
    """One backfill of every stored snapshot with ``version`` (rows deleted first)."""
    from sqlalchemy import delete

    from service.predictions.tables import Prediction

    with factory() as s:
        s.execute(delete(Prediction).where(Prediction.model_version_id == version))
        s.commit()
    p = {"model_version_id": version, "start": T0.isoformat(),
         "end": (T0 + timedelta(days=365)).isoformat(), "batch_size": 64}
    out = backfill.run(_context(settings, factory, "backfill", p), backfill.Params.model_validate(p))
    assert out["written"] == n, out
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--snapshots", type=int, default=300)
    ap.add_argument("--steps", type=int, default=retrain.DEFAULT_STEPS)
    ap.add_argument("--skip-retrain", action="store_true")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="ww-bench-backfill-"))
    settings = Settings(database_url=f"sqlite:///{root / 'db.sqlite'}", data_root=root,
                        datasets_dir=REPO_ROOT.parent / "shared" / "datasets", log_level="WARNING")
    migrate_and_seed(settings)
    factory = session_factory(get_engine(settings.database_url))
    rows = [("ingest (for comparison: analysis + detection + writes)",
             ingest(settings, factory, args.snapshots))]
    with factory() as s:
        version = s.scalar(select(ModelVersion.id).where(ModelVersion.name == "family2d-default"))
    local = run_backfill(settings, factory, version, args.snapshots)
    rows.append(("backfill in-process", local["per_second"]))
    t0 = time.perf_counter()
    from service.jobs.ray_backfill import ensure_ray

    ensure_ray("local")
    start_s = time.perf_counter() - t0
    on_ray = run_backfill(settings.model_copy(update={"ray_address": "local"}), factory, version,
                          args.snapshots)
    rows.append((f"backfill on local Ray (2 CPUs; start {start_s:.1f} s not counted)",
                 on_ray["per_second"]))
    print(f"\n{args.snapshots} snapshots (1 x {SECONDS:g} s at {FS / 1000:g} kHz), "
          "re-scored with family2d-default\n")
    print("| path | snapshots/s |\n|---|---|")
    for name, rate in rows:
        print(f"| {name} | {rate:.1f} |")
    if not args.skip_retrain:
        p = {"steps": args.steps}
        t0 = time.perf_counter()
        out = retrain.run(_context(settings, factory, "retrain", p), retrain.Params.model_validate(p))
        wall = time.perf_counter() - t0
        (c,) = out["challengers"]
        print(f"\nretrain (family1d, {args.steps} steps, CWRU + UESTC + "
              f"{out['training_set']['fleet']['batches']} labelled fleet snapshots): "
              f"{wall:.1f} s wall; promoted: {c['promoted']} ({'; '.join(c['reasons']) or 'policy met'})")


if __name__ == "__main__":
    main()

"""Cost of the detection stage per snapshot, in process: the scale-free features of 3 x 256 k
samples (at several sample rates), and the baseline update at ingest on a real SQLite database
(learning: lock, append, fit at N; ready: read, score), median of ``--repeats``.

Budget: the detection stage adds at most a few ms to an ingest (both stages together <= 10 ms
over the classifier alone); the update is O(features), never a re-read of history.

    .venv/bin/python bench/detection_cost.py [--threads 1] [--repeats 30]

Prints a Markdown table; writes JSON to bench/results/detection_cost.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from pipelines.baselines.features import snapshot_features  # noqa: E402


def median_ms(fn, repeats: int) -> float:
    fn()  # warm-up
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return round(1e3 * float(np.median(ts)), 2)


def db_update_ms(features: dict[str, float], repeats: int) -> dict[str, float]:
    """Median time of ``observe`` + commit while learning and once ready (SQLite, temp file)."""
    from service.baselines import service
    from service.db import make_engine, session_factory
    from service.migrate import upgrade
    from service.tables import Sensor, Turbine

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        upgrade(url)
        engine = make_engine(url)
        make = session_factory(engine)
        with make() as s:
            t = Turbine(name="WT-BENCH")
            s.add(t)
            s.flush()
            sensor = Sensor(turbine_id=t.id, name="hss")
            s.add(sensor)
            s.commit()
            sid = sensor.id
        out = {}
        for state, n in (("learning", 10 ** 6), ("ready", 5)):
            if state == "ready":
                with make() as s:
                    service.reset(session=s, turbine_name="WT-BENCH", sensor_name="hss",
                                  n_required=n, threshold=3.6, actor="bench")
                    s.commit()

            def once(n=n):
                with make() as s:
                    service.observe(session=s, sensor_id=sid, features=features, fs_hz=25_600.0,
                                    config=service.DetectionConfig(n), rpm=1500.0)
                    s.commit()

            if state == "ready":
                for _ in range(n):  # fills the new version's baseline
                    once()
            out[state] = median_ms(once, repeats if state == "ready" else min(repeats, 19))
        engine.dispose()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "detection_cost.json")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    x = np.random.default_rng(0).standard_normal((3, 256_000)).astype(np.float32)
    rows = [{"what": f"features, 3 x 256 k at {fs / 1e3:g} kHz",
             "ms": median_ms(lambda fs=fs: snapshot_features(x, fs), args.repeats)}
            for fs in (20_000.0, 25_600.0, 48_000.0, 97_656.0)]
    db = db_update_ms(snapshot_features(x, 25_600.0), args.repeats)
    rows += [{"what": f"baseline update + commit ({k}, SQLite)", "ms": v} for k, v in db.items()]
    print(f"\n{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"{args.threads} thread(s), median of {args.repeats}\n")
    print("| step | ms |\n|---|---|")
    for r in rows:
        print(f"| {r['what']} | {r['ms']} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"threads": args.threads, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

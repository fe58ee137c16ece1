"""What a retrain in the scheduler costs the ingest path: HTTP ingest (Arrow, 3 x 256 k samples,
one client) against a spawned server, first with the scheduler idle, then while the scheduler
trains a retrain challenger (family1d on CWRU + UESTC, ``--steps``), same server, same posts.

    .venv/bin/python bench/scheduler_impact.py [--posts 30] [--steps 2000] [--workers 1]

The scheduler is its own process (never an API worker) with ``WINDWATCH_JOB_TORCH_THREADS``
threads (default 1). On a 2-core host the training takes one core away from the API; the table
shows how much that costs, which is the figure to size a deployment by (on a separate host or
replica the difference is the database's alone).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest_http import make_snapshot, run_case, spawn_server

EXE = Path(sys.executable).parent / "windwatch"


def job_state(env: dict[str, str], job_id: int) -> str:
    """The job's state, read through the CLI like an operator would."""
    out = subprocess.run([EXE, "jobs", "show", str(job_id)], env=env, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out)["state"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--posts", type=int, default=30)
    p.add_argument("--steps", type=int, default=2000, help="retrain Adam steps")
    p.add_argument("--workers", type=int, default=None, help="uvicorn workers")
    args = p.parse_args(argv)
    x = make_snapshot()
    rows = []
    with spawn_server(args.workers) as url:
        env = {**url.env, "WINDWATCH_SCHEDULE_RETRAIN": "", "WINDWATCH_SCHEDULE_BASELINES": "",
               "WINDWATCH_SCHEDULE_DRIFT": "", "WINDWATCH_SCHEDULER_POLL_S": "1",
               "WINDWATCH_LOG_LEVEL": "WARNING"}
        sched = subprocess.Popen([EXE, "scheduler"], env=env, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
        try:
            idle = run_case(url, "arrow", 1, args.posts, 120.0, x, None, 120.0)
            rows.append({"while": "scheduler idle", **idle})
            params = json.dumps({"steps": args.steps, "force": True})
            out = subprocess.run([EXE, "jobs", "start", "retrain", "--params", params], env=env,
                                 check=True, capture_output=True, text=True).stdout
            job_id = int(re.search(r"job (\d+)", out).group(1))  # "job N (retrain) queued"
            deadline = time.monotonic() + 120
            while job_state(env, job_id) != "running" and time.monotonic() < deadline:
                time.sleep(1)
            time.sleep(20)  # past data preparation: into the training steps
            busy = run_case(url, "arrow", 1, args.posts, 120.0, x, None, 120.0)
            rows.append({"while": f"retrain running (job {job_id}, "
                                  f"{job_state(env, job_id)} at the end)", **busy})
            subprocess.run([EXE, "jobs", "cancel", str(job_id)], env=env, capture_output=True)
        finally:
            sched.terminate()
            sched.wait(60)
    print("| scheduler | posts | median ms | p95 ms | snapshots/s |")
    print("|---|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['while']} | {r['posts']} | {r['median_ms']:.1f} | {r['p95_ms']:.1f} | "
              f"{r['snapshots_per_s']:.2f} |")
    a, b = rows
    print(f"\nmedian +{b['median_ms'] - a['median_ms']:.1f} ms "
          f"({100 * (b['median_ms'] / a['median_ms'] - 1):+.0f} %), cores {os.cpu_count()}, "
          f"job torch threads {env.get('WINDWATCH_JOB_TORCH_THREADS', '1')}")
    return 1 if any(r["errors"] for r in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Soak benchmark (not a test): a server of its own fed at the fleet rate for N minutes; worker
RSS and ingest latency (p50/p95) at the start and at the end, to show memory and latency stay
flat.

    python bench/soak.py                       # 10 minutes at 10 snapshots/s, 2 workers
    python bench/soak.py --minutes 2 --rate 5  # shorter

The server is ``windwatch serve`` on a temporary SQLite database (``--database-url`` for
another), with an ingest API key made by ``windwatch keys create``. Posts are open-loop: one is
due every 1/rate seconds, sent by a pool of client threads (a slow server shows as a falling
achieved rate and rising latency, not as a politely slower client). A snapshot is 3 channels
x ``--seconds`` s at 25.6 kHz of simulated drivetrain vibration, sent as .npy with its metadata
in the query (so bodies are encoded once, not on the clock); 60 turbines x 3 sensors in turn.
"Start" is the first minute after a 20-s warm-up, "end" the last minute. Writes JSON to
bench/results/soak.json.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from simulation.drivetrain import DrivetrainConfig, simulate_snapshot
from simulation.gateway import CONTENT_TYPES, encode_npy, iso_utc

EXE = Path(sys.executable).parent / "windwatch"
RESULTS = Path(__file__).resolve().parent / "results" / "soak.json"
WARMUP_S, WINDOW_S, SAMPLE_S = 20.0, 60.0, 5.0


def worker_rss_mb(parent: int) -> dict[int, float]:
    """VmRSS (MiB) of every child process of ``parent`` (the uvicorn workers)."""
    out = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        with contextlib.suppress(OSError):
            if int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1]) != parent:
                continue
            status = Path(f"/proc/{pid}/status").read_text()
            kb = next(int(line.split()[1]) for line in status.splitlines()
                      if line.startswith("VmRSS:"))
            if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes():
                out[int(pid)] = kb / 1024
    return out


@contextlib.contextmanager
def server(workers: int, database_url: str | None) -> Iterator[tuple[str, str, int]]:
    """(url, ingest key, server pid) of a freshly migrated ``windwatch serve``."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with tempfile.TemporaryDirectory(prefix="ww-soak-") as tmp:
        root = Path(tmp)
        env = {**os.environ, "WINDWATCH_DATABASE_URL": database_url or f"sqlite:///{root}/ww.db",
               "WINDWATCH_DATA_ROOT": str(root / "data"), "WINDWATCH_DEMO_FLEET": "0",
               "WINDWATCH_WORKERS": str(workers), "WINDWATCH_LOG_LEVEL": "WARNING"}
        subprocess.run([EXE, "migrate"], env=env, check=True, capture_output=True)
        key = subprocess.run([EXE, "keys", "create", "soak", "--scope", "ingest", "-q"], env=env,
                             check=True, capture_output=True, text=True).stdout.strip()
        url = f"http://127.0.0.1:{port}"
        with open(root / "server.log", "wb") as log:
            proc = subprocess.Popen([EXE, "serve", "--port", str(port)], env=env, stdout=log,
                                    stderr=subprocess.STDOUT)
            try:
                deadline = time.monotonic() + 120
                while True:
                    with contextlib.suppress(httpx.HTTPError):
                        if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                            break
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError((root / "server.log").read_text()[-3000:])
                    time.sleep(0.25)
                yield url, key, proc.pid
            finally:
                proc.terminate()
                proc.wait(30)


def percentiles(lat: list[float]) -> dict[str, float]:
    """p50/p95 (ms) and count of a latency list (s)."""
    if not lat:
        return {"n": 0, "p50_ms": float("nan"), "p95_ms": float("nan")}
    a = np.asarray(lat) * 1e3
    return {"n": len(a), "p50_ms": round(float(np.percentile(a, 50)), 1),
            "p95_ms": round(float(np.percentile(a, 95)), 1)}


def soak(url: str, key: str, pid: int, minutes: float, rate: float, seconds: float) -> dict:
    """Post at ``rate`` for ``minutes``; sample RSS every few seconds; summarise."""
    cfg, fs = DrivetrainConfig(), 25_600.0
    bodies = [encode_npy(simulate_snapshot(cfg, "normal", 0.0, duration_s=seconds,
                                           seed=i)[0][:3]) for i in range(8)]
    start_at, t0 = datetime(2026, 1, 1, tzinfo=UTC), time.monotonic()
    end = t0 + minutes * 60
    records: list[tuple[float, float, int]] = []  # (time since start, latency s, status)
    rss: list[tuple[float, dict[int, float]]] = []
    lock, local = threading.Lock(), threading.local()
    errors_seen: list[str] = []

    def post(i: int) -> None:
        if not hasattr(local, "http"):
            local.http = httpx.Client(base_url=url, timeout=120,
                                      headers={"Authorization": f"Bearer {key}"})
        turbine, sensor = f"WT-{i % 60:03d}", f"s{(i // 60) % 3}"
        at = iso_utc(start_at + timedelta(seconds=i))
        params = {"sensor": sensor, "sample_rate_hz": str(fs), "recorded_at": at,
                  "rpm": "1500", "channels": "x,y,z"}
        t = time.monotonic()
        try:
            r = local.http.post(f"/api/v1/turbines/{turbine}/batches", content=bodies[i % 8],
                                params=params, headers={"Content-Type": CONTENT_TYPES["npy"],
                                                        "Idempotency-Key": f"soak-{i}"})
            status = r.status_code
            if status >= 300 and not errors_seen:
                errors_seen.append(f"{status} {r.text[:300]}")
                print("first error:", errors_seen[0], file=sys.stderr)
        except httpx.HTTPError:
            status = 0
        with lock:
            records.append((t - t0, time.monotonic() - t, status))

    def sample_rss() -> None:
        while time.monotonic() < end:
            rss.append((time.monotonic() - t0, worker_rss_mb(pid)))
            time.sleep(SAMPLE_S)

    threading.Thread(target=sample_rss, daemon=True).start()
    with ThreadPoolExecutor(max_workers=16) as pool:
        i = 0
        while (due := t0 + i / rate) < end:
            time.sleep(max(0.0, due - time.monotonic()))
            pool.submit(post, i)
            i += 1
    elapsed = time.monotonic() - t0
    ok = [(t, lat) for t, lat, s in records if s in (200, 201)]
    first = [lat for t, lat in ok if WARMUP_S <= t < WARMUP_S + WINDOW_S]
    last = [lat for t, lat in ok if t >= minutes * 60 - WINDOW_S]
    rss_start = next((m for t, m in rss if t >= WARMUP_S), rss[0][1] if rss else {})
    rss_end = rss[-1][1] if rss else {}
    return {
        "minutes": minutes, "rate_target": rate, "snapshot_s": seconds, "posted": len(records),
        "accepted": len(ok),
        "errors": dict(Counter(str(s) for _, _, s in records if s not in (200, 201))),
        "rate_achieved": round(len(ok) / elapsed, 2),
        "latency_start": percentiles(first), "latency_end": percentiles(last),
        "rss_mb_start": {str(k): round(v, 1) for k, v in rss_start.items()},
        "rss_mb_end": {str(k): round(v, 1) for k, v in rss_end.items()},
        "rss_mb_total_start": round(sum(rss_start.values()), 1),
        "rss_mb_total_end": round(sum(rss_end.values()), 1),
    }


def main() -> None:
    """Parse flags, run the soak, print and save the figures."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--rate", type=float, default=10.0, help="snapshots per second")
    ap.add_argument("--seconds", type=float, default=2.0, help="length of one snapshot")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--database-url", default=None)
    args = ap.parse_args()
    with server(args.workers, args.database_url) as (url, key, pid):
        out = soak(url, key, pid, args.minutes, args.rate, args.seconds)
    out["workers"], out["cpus"] = args.workers, os.cpu_count()
    print(json.dumps(out, indent=2))
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()

"""HTTP ingest benchmark: latency and throughput of ``POST /api/v1/turbines/{id}/batches``.

One snapshot = 3 channels x 256,000 float32 (10 s at 25.6 kHz), encoded as each upload format
(the gateway's own encoders, ``simulation.gateway``), posted by 1 and 4 concurrent clients (a
thread with its own ``httpx.Client`` and its own turbine each; a unique ``recorded_at`` per post).
Bodies are encoded before the clock starts: the figures are the server's, not the encoder's.

    python bench/ingest_http.py --url http://127.0.0.1:8000     # a running server
    python bench/ingest_http.py --spawn                         # SQLite server of its own
    python bench/ingest_http.py --dry-run                       # no server: a decoding mock

Prints a Markdown table and writes JSON to bench/results/ingest_http.json (not in dry runs).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import itertools
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np
import orjson
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from simulation.gateway import CONTENT_TYPES, encode_arrow, encode_json, encode_npy, encode_parquet

FS_HZ = 25_600.0
N_CHANNELS, N_SAMPLES = 3, 256_000
CHANNELS = ["x", "y", "z"]
RESULTS = Path(__file__).resolve().parent / "results" / "ingest_http.json"


class Spawned(str):
    """The base URL of a spawned server, with the environment it runs with (``env``)."""

    env: dict[str, str]


@contextlib.contextmanager
def spawn_server(workers: int | None = None, startup_s: float = 120.0) -> Iterator[Spawned]:
    """Migrate and serve Windwatch on a free port with a temporary SQLite DB; yields its URL
    (with ``.env``, for other processes on the same database)."""
    exe = Path(sys.executable).parent / "windwatch"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with tempfile.TemporaryDirectory(prefix="ww-bench-") as tmp:
        root = Path(tmp)
        env = {**os.environ, "WINDWATCH_DATABASE_URL": f"sqlite:///{root / 'ww.db'}",
               "WINDWATCH_DATA_ROOT": str(root / "data"), "WINDWATCH_DEMO_FLEET": "0"}
        subprocess.run([exe, "migrate"], env=env, check=True, capture_output=True)
        key = subprocess.run([exe, "keys", "create", "bench", "--scope", "ingest", "--quiet"],
                             env=env, check=True, capture_output=True, text=True).stdout.strip()
        HEADERS["Authorization"] = f"Bearer {key}"
        cmd = [exe, "serve", "--host", "127.0.0.1", "--port", str(port)]
        cmd += ["--workers", str(workers)] if workers else []
        url = Spawned(f"http://127.0.0.1:{port}")
        url.env = env
        with open(root / "server.log", "wb") as log:
            proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
            try:
                deadline = time.monotonic() + startup_s
                while not _healthy(url):
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError("server did not start:\n"
                                           + (root / "server.log").read_text()[-3000:])
                    time.sleep(0.25)
                yield url
            finally:
                proc.terminate()
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()


# An ingest key: created for a spawned server, else WINDWATCH_API_KEY for --url.
HEADERS: dict[str, str] = ({"Authorization": f"Bearer {os.environ['WINDWATCH_API_KEY']}"}
                           if os.environ.get("WINDWATCH_API_KEY") else {})


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def make_snapshot(seed: int = 0) -> np.ndarray:
    """(3, 256000) float32 in g: shaft and gear-mesh sines, a bearing tone, Gaussian noise."""
    rng = np.random.default_rng(seed)
    t_s = np.arange(N_SAMPLES) / FS_HZ
    freqs_hz = np.array([25.0, 50.0, 575.0, 1150.0, 3120.0])
    amps_g = np.array([0.05, 0.02, 0.3, 0.1, 0.04])
    phases = rng.uniform(0, 2 * np.pi, (N_CHANNELS, freqs_hz.size, 1))
    tones = (amps_g[:, None] * np.sin(2 * np.pi * freqs_hz[:, None] * t_s + phases)).sum(axis=1)
    return (tones + 0.05 * rng.standard_normal((N_CHANNELS, N_SAMPLES))).astype(np.float32)


def encode(fmt: str, x: np.ndarray, recorded_at: datetime) -> tuple[bytes, dict[str, str]]:
    """(body, query params) of one post, as a gateway sends it."""
    meta = {"sensor": "gearbox_hss", "sample_rate_hz": FS_HZ, "recorded_at": recorded_at,
            "rpm": 1500.0, "unit": "g"}
    if fmt == "npy":
        params = {k: str(v) for k, v in meta.items() if k != "recorded_at"}
        params["recorded_at"] = recorded_at.isoformat().replace("+00:00", "Z")
        return encode_npy(x), {**params, "channels": ",".join(CHANNELS)}
    encoder = {"arrow": encode_arrow, "parquet": encode_parquet, "json": encode_json}[fmt]
    return encoder(x, CHANNELS, meta), {}


def decode(fmt: str, body: bytes) -> np.ndarray:
    """Parse a body back to (C, N): the dry run's stand-in for the server."""
    if fmt == "arrow":
        table = pa.ipc.open_stream(body).read_all()
    elif fmt == "parquet":
        table = pq.read_table(io.BytesIO(body))
    elif fmt == "npy":
        return np.load(io.BytesIO(body), allow_pickle=False)
    else:
        return np.array(list(orjson.loads(body)["channels"].values()), dtype=np.float32)
    return np.stack([c.to_numpy() for c in table.columns])


def mock_transport() -> httpx.MockTransport:
    """A fake server that decodes the body and answers 201 (no storage, no model)."""
    fmt_of = {v: k for k, v in CONTENT_TYPES.items()}

    def handler(request: httpx.Request) -> httpx.Response:
        x = decode(fmt_of[request.headers["content-type"]], request.content)
        if x.shape != (N_CHANNELS, N_SAMPLES):
            return httpx.Response(422, json={"detail": f"shape {x.shape}"})
        return httpx.Response(201, json={"id": 1})

    return httpx.MockTransport(handler)


def run_case(url: str, fmt: str, clients: int, n_posts: int, max_s: float, x: np.ndarray,
             transport: httpx.BaseTransport | None, timeout_s: float) -> dict:
    """Post up to ``n_posts`` snapshots of ``fmt`` from ``clients`` threads within ``max_s``."""
    run = uuid.uuid4().hex[:8]
    turbines = [f"bench-{run}-{fmt}-c{clients}-{i}" for i in range(clients)]
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    t0 = time.perf_counter()
    warm = [encode(fmt, x, base) for _ in turbines]  # one untimed post per turbine registers it
    bodies = [encode(fmt, x, base + timedelta(seconds=10 * (k + 1))) for k in range(n_posts)]
    encode_ms = (time.perf_counter() - t0) * 1e3 / (len(bodies) + len(warm))
    next_post, lock = itertools.count(), threading.Lock()
    latencies_ms: list[float] = []
    errors: list[str] = []
    clock: dict[str, float] = {}
    # The barrier's action runs once, before any thread is released: one start time for all.
    start = threading.Barrier(clients + 1, action=lambda: clock.update(t0=time.perf_counter()))

    def post(http: httpx.Client, turbine: str, body: bytes, params: dict) -> httpx.Response:
        return http.post(f"/api/v1/turbines/{turbine}/batches", content=body, params=params,
                         headers={"Content-Type": CONTENT_TYPES[fmt],
                                  "Idempotency-Key": uuid.uuid4().hex})

    def client(i: int) -> None:
        with httpx.Client(base_url=url, timeout=timeout_s, transport=transport,
                          headers=HEADERS) as http:
            r = post(http, turbines[i], *warm[i])
            if r.status_code not in (200, 201):
                errors.append(f"warm-up {r.status_code}: {r.text[:200]}")
            start.wait()
            while True:
                with lock:
                    k = next(next_post)
                if k >= n_posts or time.perf_counter() > clock["t0"] + max_s:
                    return
                t = time.perf_counter()
                try:
                    r = post(http, turbines[i], *bodies[k])
                except httpx.HTTPError as exc:
                    errors.append(repr(exc))
                    continue
                ms = (time.perf_counter() - t) * 1e3
                with lock:
                    if r.status_code in (200, 201):
                        latencies_ms.append(ms)
                    else:
                        errors.append(f"{r.status_code}: {r.text[:200]}")

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for th in threads:
        th.start()
    start.wait()
    for th in threads:
        th.join()
    wall_s = time.perf_counter() - clock["t0"]
    lat = np.array(latencies_ms)
    return {
        "format": fmt, "clients": clients, "posts": len(lat), "errors": len(errors),
        "error_samples": errors[:3], "body_mb": len(bodies[0][0]) / 1e6,
        "encode_ms": encode_ms,
        "median_ms": float(np.median(lat)) if lat.size else None,
        "p95_ms": float(np.percentile(lat, 95)) if lat.size else None,
        "snapshots_per_s": len(lat) / wall_s if wall_s > 0 else None,
        "wall_s": wall_s,
    }


def markdown_table(rows: list[dict]) -> str:
    """The results as a Markdown table (one row per format and client count)."""
    def f(v: float | None, spec: str) -> str:
        return "-" if v is None else format(v, spec)

    out = ["| format | clients | body MB | posts | errors | median ms | p95 ms | snapshots/s |",
           "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        out.append(f"| {r['format']} | {r['clients']} | {r['body_mb']:.2f} | {r['posts']} | "
                   f"{r['errors']} | {f(r['median_ms'], '.1f')} | {f(r['p95_ms'], '.1f')} | "
                   f"{f(r['snapshots_per_s'], '.2f')} |")
    return "\n".join(out)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--url", help="base URL of a running Windwatch server")
    target.add_argument("--spawn", action="store_true",
                        help="migrate and serve a temporary SQLite Windwatch, stopped at the end")
    target.add_argument("--dry-run", action="store_true",
                        help="no server: a mock that only decodes bodies (checks the bench)")
    p.add_argument("--formats", default="arrow,parquet,npy,json")
    p.add_argument("--clients", default="1,4", help="concurrency levels, comma-separated")
    p.add_argument("--posts", type=int, default=40, help="posts per format and concurrency")
    p.add_argument("--json-posts", type=int, default=8, help="posts for JSON (slow to parse)")
    p.add_argument("--max-seconds", type=float, default=30.0, help="time bound per case")
    p.add_argument("--workers", type=int, default=None, help="--spawn: uvicorn workers")
    p.add_argument("--timeout", type=float, default=120.0, help="per-request timeout, s")
    p.add_argument("--out", type=Path, default=None, help=f"JSON results (default {RESULTS})")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    formats = [s for s in args.formats.split(",") if s]
    unknown = set(formats) - set(CONTENT_TYPES)
    if unknown:
        raise SystemExit(f"unknown formats {sorted(unknown)}; choose from {list(CONTENT_TYPES)}")
    x = make_snapshot()
    if args.dry_run:
        for fmt in formats:  # the encoders must round-trip exactly before anything is timed
            assert np.array_equal(decode(fmt, encode(fmt, x, datetime.now(UTC))[0]), x), fmt
    rows = []
    given = contextlib.nullcontext((args.url or "http://bench.invalid").rstrip("/"))
    with spawn_server(args.workers) if args.spawn else given as url:
        transport = mock_transport() if args.dry_run else None
        for fmt in formats:
            for clients in (int(c) for c in args.clients.split(",")):
                n = args.json_posts if fmt == "json" else args.posts
                row = run_case(url, fmt, clients, n, args.max_seconds, x, transport, args.timeout)
                print(f"{fmt:8s} x{clients}: {row['posts']} posts, median "
                      f"{row['median_ms'] or float('nan'):.1f} ms, errors {row['errors']}",
                      file=sys.stderr)
                for e in row["error_samples"]:
                    print(f"   {e}", file=sys.stderr)
                rows.append(row)
    print(markdown_table(rows))
    out = args.out or (None if args.dry_run else RESULTS)
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        doc = {"bench": "ingest_http", "at": datetime.now(UTC).isoformat(),
               "target": "spawn" if args.spawn else ("dry-run" if args.dry_run else args.url),
               "snapshot": {"channels": N_CHANNELS, "samples": N_SAMPLES, "fs_hz": FS_HZ},
               "host": {"cpus": os.cpu_count(), "python": platform.python_version(),
                        "machine": platform.machine()},
               "args": {k: str(v) for k, v in vars(args).items()}, "results": rows}
        out.write_text(json.dumps(doc, indent=2))
        print(f"wrote {out}", file=sys.stderr)
    return 1 if any(r["errors"] for r in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())

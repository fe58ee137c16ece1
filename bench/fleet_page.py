"""Fleet page at scale: 10,000 turbines and as many 10-minute predictions as fit in the insert
budget, in PostgreSQL; then the server-side time of the fleet page's first view over HTTP.

History is filled backwards from now in 6-hour slices (10,000 turbines x 36 snapshots = 360,000
batches + 360,000 predictions per slice, generate_series INSERTs) until ``--insert-seconds``
run out: a year (525 million rows per table) does not fit on a development machine, and the
page's cost does not depend on history depth anyway (it reads the ``latest_prediction_id``
pointer, never the history). About 1 % of turbines carry an active alarm.

    python bench/fleet_page.py                      # local test database, schema ww_bench_fleet
    python bench/fleet_page.py --url postgresql+psycopg://postgres@127.0.0.1:5432/test

Prints the row counts and the latency table; writes bench/results/fleet_page.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
BIN = Path(sys.executable).parent
SLICE_TICKS = 36  # 6 hours of 10-minute snapshots per INSERT
_TEN_MIN = timedelta(minutes=10)

BATCHES = """
INSERT INTO batches (turbine_id, sensor_id, recorded_at, received_at, sample_rate_hz, n_channels,
  n_samples, channel_names, rpm, unit, content_type, raw_uri, raw_sha256, raw_bytes, body_sha256)
SELECT t, t, ts, ts + interval '30 seconds', 25600, 3, 256000, '["x","y","z"]'::jsonb, 1500, 'g',
  'application/vnd.apache.arrow.stream', 'bench/none', 'x', 0, 'x'
FROM generate_series(1, :n) t,
     generate_series(:t0 - (:ticks - 1) * interval '10 minutes', :t0, interval '10 minutes') ts
"""
PREDICTIONS = """
INSERT INTO predictions (batch_id, turbine_id, sensor_id, recorded_at, created_at,
  model_version_id, label, score, probabilities, per_channel, n_windows)
SELECT id, turbine_id, sensor_id, recorded_at, received_at, :mv,
  CASE WHEN turbine_id % 37 = 0 THEN 'inner_race' ELSE 'normal' END,
  CASE WHEN turbine_id % 37 = 0 THEN 0.93 ELSE 0.02 END,
  CASE WHEN turbine_id % 37 = 0
    THEN jsonb_build_object('normal', 0.07, 'inner_race', 0.93, 'outer_race', 0.0, 'ball', 0.0)
    ELSE jsonb_build_object('normal', 0.98, 'inner_race', 0.01, 'outer_race', 0.01, 'ball', 0.0)
  END,
  '{}'::jsonb, 9
FROM batches WHERE id > :after
"""
ALARMS = """
INSERT INTO alarms (turbine_id, sensor_id, kind, code, component, state, severity, active,
  threshold, peak_probability, zone, count, details, opened_at, last_seen_at, first_recorded_at,
  last_recorded_at, latest_prediction_id)
SELECT t.id, t.id, 'fault', 'inner_race', 'gearbox', 'open', 'major', true, 0.7, 0.93, NULL, 3,
  '{}'::jsonb, now(), now(), t.last_recorded_at, t.last_recorded_at, t.latest_prediction_id
FROM turbines t WHERE t.id % 37 = 0
"""


def fill(url: str, data_root: Path, n_turbines: int, insert_seconds: float) -> dict:
    """Migrate the schema, register the models, insert turbines, history and alarms."""
    from service.migrate import migrate_and_seed
    from service.settings import Settings

    migrate_and_seed(Settings(database_url=url, data_root=data_root))
    eng = create_engine(url)
    t_start = time.perf_counter()
    with eng.begin() as c:
        mv = c.scalar(text("SELECT id FROM model_versions WHERE status = 'production'"))
        c.execute(text("INSERT INTO turbines (id, name, site, created_at) SELECT t, "
                       "'WT-' || lpad(t::text, 5, '0'), 'Site ' || (t / 50), now() "
                       "FROM generate_series(1, :n) t"), {"n": n_turbines})
        c.execute(text("INSERT INTO sensors (id, turbine_id, name, component, created_at) "
                       "SELECT t, t, 'gearbox_hss', 'gearbox', now() "
                       "FROM generate_series(1, :n) t"),
                  {"n": n_turbines})
    slices, newest_max_id = 0, None
    with eng.connect() as c:
        t_now = c.scalar(text("SELECT date_trunc('hour', now())"))
    while time.perf_counter() - t_start < insert_seconds:
        with eng.begin() as c:
            after = c.scalar(text("SELECT coalesce(max(id), 0) FROM batches"))
            c.execute(text(BATCHES), {"n": n_turbines, "ticks": SLICE_TICKS,
                                      "t0": t_now - slices * SLICE_TICKS * _TEN_MIN})
            c.execute(text(PREDICTIONS), {"mv": mv, "after": after})
        slices += 1
        if newest_max_id is None:  # the first slice holds the newest snapshot of each turbine
            with eng.begin() as c:
                c.execute(text(
                    "UPDATE turbines t SET latest_prediction_id = p.id, last_recorded_at = "
                    "p.recorded_at, last_received_at = p.created_at FROM (SELECT DISTINCT ON "
                    "(turbine_id) turbine_id, id, recorded_at, created_at FROM predictions "
                    "ORDER BY turbine_id, recorded_at DESC, id DESC) p WHERE p.turbine_id = t.id"))
                c.execute(text(ALARMS))
                newest_max_id = 1
        print(f"  slice {slices}: {slices * SLICE_TICKS * n_turbines:,} predictions "
              f"after {time.perf_counter() - t_start:.0f} s", flush=True)
    with eng.begin() as c:
        c.execute(text("ANALYZE"))
        counts = {k: c.scalar(text(f"SELECT count(*) FROM {k}"))
                  for k in ("turbines", "batches", "predictions", "alarms")}
    eng.dispose()
    counts["history_days"] = round(slices * SLICE_TICKS / 144, 2)
    counts["insert_s"] = round(time.perf_counter() - t_start, 1)
    return counts


def time_pages(url: str, data_root: Path, repeats: int) -> list[dict]:
    """Start a server on the schema and time the fleet page (first view, then variants)."""
    from tests.e2e.conftest import free_port

    port = free_port()
    env = {**os.environ, "WINDWATCH_DATABASE_URL": url, "WINDWATCH_TORCH_THREADS": "1",
           "WINDWATCH_DATA_ROOT": str(data_root), "WINDWATCH_DEMO_FLEET": "0",
           "WINDWATCH_LOG_LEVEL": "WARNING"}
    key = subprocess.run([BIN / "windwatch", "keys", "create", f"bench-{port}", "--scope",
                          "read", "--quiet"], env=env, check=True, capture_output=True,
                         text=True).stdout.strip()
    log = open(data_root / "server.log", "w")  # noqa: SIM115
    proc = subprocess.Popen([BIN / "windwatch", "serve", "--port", str(port)], env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            raise RuntimeError(f"server did not start: {(data_root / 'server.log').read_text()}")
        rows = []
        with httpx.Client(base_url=base, timeout=60,
                          headers={"Authorization": f"Bearer {key}"}) as http:
            for path in ("/", "/?state=alarm", "/?sort=name&order=asc&page=100",
                         "/?q=WT-0999", "/?sort=received&order=desc", "/alarms"):
                times = []
                for _ in range(repeats):
                    t = time.perf_counter()
                    r = http.get(path)
                    times.append((time.perf_counter() - t) * 1e3)
                    r.raise_for_status()
                rows.append({"path": path, "first_ms": round(times[0], 1),
                             "median_ms": round(statistics.median(times), 1),
                             "max_ms": round(max(times), 1), "bytes": len(r.content)})
        return rows
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", default=os.environ.get(
        "WINDWATCH_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"))
    p.add_argument("--schema", default="ww_bench_fleet")
    p.add_argument("--turbines", type=int, default=10_000)
    p.add_argument("--insert-seconds", type=float, default=120.0)
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--keep", action="store_true", help="keep the schema afterwards")
    a = p.parse_args()
    admin = create_engine(a.url)
    with admin.begin() as c:
        c.execute(text(f'DROP SCHEMA IF EXISTS "{a.schema}" CASCADE'))
        c.execute(text(f'CREATE SCHEMA "{a.schema}"'))
    url = f"{a.url}{'&' if '?' in a.url else '?'}options=-csearch_path%3D{a.schema}"
    try:
        data_root = Path(tempfile.mkdtemp(prefix="ww-bench-"))
        counts = fill(url, data_root, a.turbines, a.insert_seconds)
        print("rows:", json.dumps(counts))
        rows = time_pages(url, data_root, a.repeats)
    finally:
        if not a.keep:
            with admin.begin() as c:
                c.execute(text(f'DROP SCHEMA IF EXISTS "{a.schema}" CASCADE'))
    print("\n| page | first view (ms) | median (ms) | max (ms) | bytes |\n|---|---|---|---|---|")
    for r in rows:
        print(f"| `{r['path']}` | {r['first_ms']} | {r['median_ms']} | {r['max_ms']} "
              f"| {r['bytes']} |")
    out = REPO / "bench" / "results" / "fleet_page.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"counts": counts, "pages": rows}, indent=1))


if __name__ == "__main__":
    main()

"""What the crash tests share: gateway-like clients that post until acknowledged (same body,
same Idempotency-Key on every try, honouring Retry-After), a ledger of what the server said,
the server's worker processes (to kill), and the exactly-once check against the database and
the raw files."""

from __future__ import annotations

import hashlib
import os
import subprocess
import threading
import time
import zlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

from simulation.gateway import CONTENT_TYPES, default_idempotency_key, encode_arrow
from tests.live_server import BIN
from tests.service.bodies import signal

START = datetime(2026, 11, 1, tzinfo=UTC)
CLIENT_TIMEOUT_S = 30.0  # a gateway's HTTP timeout
MAX_BACKOFF_S = 2.0  # the longest a gateway waits between tries


@dataclass
class Ledger:
    """Every status seen, the acknowledged snapshots (key -> batch id, raw sha256) and every
    response a client must never get (a 500, or a 503 without Retry-After)."""

    statuses: Counter = field(default_factory=Counter)
    acked: dict[str, tuple[int, str]] = field(default_factory=dict)
    bad: list[str] = field(default_factory=list)
    transport_errors: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def saw(self, r: httpx.Response, what: str) -> None:
        """Record one response; a 5xx other than a 503 with Retry-After is a failure."""
        with self.lock:
            self.statuses[r.status_code] += 1
            if r.status_code >= 500 and not (r.status_code == 503 and r.headers.get("Retry-After")):
                self.bad.append(f"{what}: {r.status_code} {r.headers} {r.text[:200]}")


def post_until_acked(http: httpx.Client, turbine: str, i: int, ledger: Ledger,
                     deadline: float) -> None:
    """Post snapshot ``i`` of ``turbine`` until a 2xx (or the deadline), like a gateway."""
    at = START + timedelta(minutes=10 * i)
    body = encode_arrow(signal(seed=zlib.crc32(f"{turbine}/{i}".encode())),
                        ["x", "y", "z"], {"sensor": "gearbox_hss", "sample_rate_hz": 25_600.0,
                                          "recorded_at": at, "rpm": 1500.0, "unit": "g"})
    key = default_idempotency_key(turbine, "gearbox_hss", at)
    headers = {"Content-Type": CONTENT_TYPES["arrow"], "Idempotency-Key": key}
    delay = 0.2
    while time.monotonic() < deadline:
        try:
            r = http.post(f"/api/v1/turbines/{turbine}/batches", content=body, headers=headers)
        except httpx.TransportError:  # the worker died under the request: resend
            with ledger.lock:
                ledger.transport_errors += 1
        else:
            ledger.saw(r, f"POST {turbine} #{i}")
            if r.status_code in (200, 201):
                out = r.json()
                with ledger.lock:
                    ledger.acked[key] = (out["batch_id"], out["raw"]["sha256"])
                return
            if r.status_code < 500:
                with ledger.lock:
                    ledger.bad.append(f"POST {turbine} #{i}: {r.status_code} {r.text[:200]}")
                return
            delay = max(delay, float(r.headers.get("Retry-After", delay)))
        time.sleep(delay)
        delay = min(delay * 2, MAX_BACKOFF_S)


def run_clients(server: str, headers: dict[str, str], n_clients: int, ledger: Ledger,
                deadline: float, stop: threading.Event, n_max: int = 500) -> list[threading.Thread]:
    """Start ``n_clients`` gateway threads (one turbine each) posting one snapshot after the
    other (each until acknowledged) until ``stop`` is set, at most ``n_max`` each."""

    def gateway(c: int) -> None:
        with httpx.Client(base_url=server, headers=headers, timeout=CLIENT_TIMEOUT_S) as http:
            for i in range(n_max):
                if stop.is_set():
                    return
                post_until_acked(http, f"WT-C{c:02d}", i, ledger, deadline)

    threads = [threading.Thread(target=gateway, args=(c,), daemon=True) for c in range(n_clients)]
    for t in threads:
        t.start()
    return threads


def join_clients(threads: list[threading.Thread], deadline: float) -> bool:
    """Wait for the gateway threads; True when all have finished. A client checks the deadline
    between tries, so one may still be inside its last request and back-off when the deadline
    passes: that much more is allowed, no more."""
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()) + CLIENT_TIMEOUT_S + MAX_BACKOFF_S)
    return not any(t.is_alive() for t in threads)


def server_log_summary(root: Path, n: int = 12) -> str:
    """The server log's most frequent lines other than the request log (worker deaths,
    database errors, tracebacks' last lines), counted: what a failed assertion shows."""
    path = root / "server.log"
    if not path.exists():
        return "no server log"
    lines = [ln[:200] for ln in path.read_text(errors="replace").splitlines()
             if ln[:1].strip() and "[info     ] request" not in ln]
    return "; ".join(f"{k} x{c}" for k, c in Counter(lines).most_common(n))


def wait_healthy(server: str, headers: dict[str, str], timeout_s: float = 60) -> float:
    """Seconds until ``/healthz`` answers 200 (uvicorn replaces killed workers)."""
    t0 = time.monotonic()
    while True:
        try:
            if httpx.get(f"{server}/healthz", headers=headers, timeout=10).status_code == 200:
                return time.monotonic() - t0
        except httpx.TransportError:
            pass
        assert time.monotonic() - t0 < timeout_s, "the server did not recover"
        time.sleep(0.2)


def server_pid(server: str) -> int:
    """The ``windwatch serve`` process listening on the server's port."""
    port = server.rsplit(":", 1)[1]
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(c.endswith(b"windwatch") for c in cmd[:2]) and b"serve" in cmd \
                and port.encode() in cmd:
            return int(pid)
    raise LookupError(f"no windwatch serve on port {port}")


def worker_pids(parent: int) -> list[int]:
    """The uvicorn worker processes (multiprocessing spawn children) of ``parent``."""
    out = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == parent and b"spawn_main" in cmd:
            out.append(int(pid))
    return out


def verify_exactly_once(db_url: str, data_root: Path, ledger: Ledger) -> int:
    """Every acknowledged snapshot is stored exactly once, under the acknowledged batch id,
    with a raw file whose sha256 matches; nothing else is stored. Returns the row count."""
    engine = create_engine(db_url)
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT id, idempotency_key, raw_uri, raw_sha256 FROM batches")).all()
    engine.dispose()
    by_key = Counter(r.idempotency_key for r in rows)
    assert not [k for k, n in by_key.items() if n > 1], "a snapshot was stored twice"
    assert set(by_key) == set(ledger.acked), "stored and acknowledged snapshots differ"
    for r in rows:
        assert ledger.acked[r.idempotency_key] == (r.id, r.raw_sha256)
        data = (data_root / r.raw_uri).read_bytes()
        assert hashlib.sha256(data).hexdigest() == r.raw_sha256, r.raw_uri
    return len(rows)


def sweep_and_check(server) -> tuple[int, str]:
    """``windwatch check --sweep --grace-s 0`` on the stopped server's data; asserts it passes
    and that afterwards every raw file has its row. Returns (orphans quarantined, output)."""
    r = subprocess.run([BIN / "windwatch", "check", "--sweep", "--grace-s", "0"],
                       env=server.env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "0 missing, 0 corrupt" in r.stdout, r.stdout
    quarantined = r.stderr.count("quarantined orphan")
    root = Path(server.env["WINDWATCH_DATA_ROOT"])
    engine = create_engine(server.env["WINDWATCH_DATABASE_URL"])
    with engine.connect() as conn:
        uris = set(conn.execute(text("SELECT raw_uri FROM batches")).scalars())
    engine.dispose()
    files = {p.relative_to(root).as_posix() for p in (root / "raw").rglob("*") if p.is_file()}
    assert files == uris, f"orphans left after the sweep: {sorted(files - uris)[:5]}"
    return quarantined, r.stdout

"""Exactly-once ingest under crashes, on a real server with two workers and a real database
(SQLite and PostgreSQL): ``kill -9`` of the uvicorn workers while gateways post with retries
and the same Idempotency-Key; and (PostgreSQL) the service's database connections terminated
mid-load. Afterwards every acknowledged snapshot is stored exactly once with a matching raw
file, no response was a 500 (a 503 always carries Retry-After), the service recovered without
a restart, and the sweep leaves no orphan file. Loops are bounded (a minute or so each)."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import threading
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.conftest import PG_URL, postgres_schema_url
from tests.e2e.crash_load import (
    Ledger,
    join_clients,
    run_clients,
    server_log_summary,
    server_pid,
    sweep_and_check,
    verify_exactly_once,
    wait_healthy,
    worker_pids,
)
from tests.live_server import running_server

N_CLIENTS, KILLS, TERMINATIONS_S = 3, 8, 25


def serve(tmp_path: Path, url: str):
    """A live server with two workers on ``url``."""
    return running_server(tmp_path, WINDWATCH_WORKERS="2", WINDWATCH_DATABASE_URL=url)


def database_url(backend: str, tmp_path: Path, app_name: str) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'ww.db'}"
    return f"{postgres_schema_url(f'ww_crash_{os.getpid()}_{app_name}')}&application_name={app_name}"


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_kill_9_of_the_workers_loses_and_duplicates_nothing(backend, tmp_path, capsys):
    url = database_url(backend, tmp_path, "kill")
    with serve(tmp_path, url) as server:
        parent, ledger, stop = server_pid(server), Ledger(), threading.Event()
        deadline = time.monotonic() + 180
        threads = run_clients(server, server.headers, N_CLIENTS, ledger, deadline, stop)
        kills, rounds, rng = 0, 0, random.Random(0)
        while kills < KILLS and time.monotonic() < deadline:
            acked = len(ledger.acked)
            while len(ledger.acked) < acked + 2 and time.monotonic() < deadline:
                time.sleep(0.05)  # wait for progress: kill workers that are serving
            time.sleep(rng.uniform(0.0, 0.3))  # land anywhere inside the next requests
            pids = worker_pids(parent)
            for pid in pids if rounds % 2 else pids[:1]:  # alternately one worker and all
                os.kill(pid, signal.SIGKILL)
                kills += 1
            rounds += 1
        stop.set()
        finished = join_clients(threads, deadline)
        assert kills >= KILLS and finished, (ledger, server_log_summary(tmp_path))
        assert not ledger.bad, ledger.bad[:3]
        wait_healthy(server, server.headers)  # uvicorn replaced the workers; no restart
    stored = verify_exactly_once(url, tmp_path / "data", ledger)
    orphans, _ = sweep_and_check(server)
    with capsys.disabled():
        print(f"\n[{backend}] {kills} workers killed: {len(ledger.acked)} acknowledged, "
              f"{stored} stored, {ledger.transport_errors} dropped connections, "
              f"statuses {dict(ledger.statuses)}, {orphans} orphans quarantined")


@pytest.mark.postgres
def test_database_connections_terminated_mid_load_give_503_or_success(tmp_path, capsys):
    app_name = f"ww_outage_{os.getpid()}"
    url = database_url("postgres", tmp_path, app_name)
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    terminate = text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                     "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                     "AND application_name = :app")
    with serve(tmp_path, url) as server:
        ledger, stop, done = Ledger(), threading.Event(), threading.Event()
        deadline = time.monotonic() + TERMINATIONS_S + 60
        threads = run_clients(server, server.headers, N_CLIENTS, ledger, deadline, stop)

        def reader() -> None:
            with httpx.Client(base_url=server, headers=server.headers, timeout=30) as http:
                while not done.is_set():
                    for path in ("/healthz", "/api/v1/turbines", "/api/v1/alarms", "/"):
                        with contextlib.suppress(httpx.TransportError):
                            ledger.saw(http.get(path), f"GET {path}")
                    time.sleep(0.05)

        readers = [threading.Thread(target=reader, daemon=True) for _ in range(2)]
        for t in readers:
            t.start()
        terminated, rng = 0, random.Random(1)
        end = time.monotonic() + TERMINATIONS_S
        with admin.connect() as conn:
            while time.monotonic() < end:
                time.sleep(rng.uniform(0.1, 0.6))
                terminated += conn.execute(terminate, {"app": app_name}).scalar_one()
        stop.set()
        finished = join_clients(threads, deadline)
        done.set()
        for t in readers:
            t.join(30)
        admin.dispose()
        assert terminated > 0 and finished, (ledger, server_log_summary(tmp_path))
        assert not ledger.bad, ledger.bad[:3]
        # Recovered without restart: the very next requests succeed (both workers).
        with httpx.Client(base_url=server, headers=server.headers, timeout=30) as http:
            for path in ["/healthz", "/api/v1/turbines"] * 4:
                assert http.get(path).status_code == 200, path
    stored = verify_exactly_once(url.split("&application_name")[0], tmp_path / "data", ledger)
    orphans, _ = sweep_and_check(server)
    with capsys.disabled():
        print(f"\n[postgres] {terminated} connections terminated: {len(ledger.acked)} "
              f"acknowledged, {stored} stored, statuses {dict(ledger.statuses)}, "
              f"{orphans} orphans quarantined")

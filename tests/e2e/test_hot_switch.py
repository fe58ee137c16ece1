"""Promoting a model from the CLI switches a running server without failing in-flight posts."""

from __future__ import annotations

import subprocess
import threading
import time

import httpx
import pytest

from tests.e2e.conftest import BIN
from tests.service.bodies import ARROW, arrow_body, meta, signal

pytestmark = pytest.mark.e2e


def test_cli_promote_switches_running_server(server):
    models = httpx.get(f"{server}/api/v1/models", headers=server.headers).json()
    old = next(m["id"] for m in models if m["status"] == "production")
    new = next(m["id"] for m in models if m["status"] != "production")
    body_x = signal(n=40_000)
    results: list[tuple[int, int | None]] = []
    stop = threading.Event()

    def gateway() -> None:
        with httpx.Client(base_url=server, headers=server.headers, timeout=30) as http:
            i = 0
            # Bounded by the stop event (~4 s); the count cap is only a backstop.
            while not stop.is_set() and i < 3000:
                ts = f"2026-11-03T{i // 3600:02d}:{(i // 60) % 60:02d}:{i % 60:02d}Z"
                r = http.post("/api/v1/turbines/WT-HOT/batches", content=arrow_body(body_x, meta(ts)),
                              headers={"Content-Type": ARROW})
                mv = r.json()["prediction"]["model_version"]["id"] if r.status_code == 201 else None
                results.append((r.status_code, mv))
                i += 1

    t = threading.Thread(target=gateway)
    t.start()
    time.sleep(1.0)
    subprocess.run([BIN / "windwatch", "models", "promote", str(new), "--reason", "e2e"],
                   env=server.env, check=True, capture_output=True)
    time.sleep(2.0)  # > model_refresh_s: every request after this sees the new model
    n_before_stop = len(results)
    time.sleep(1.0)
    stop.set()
    t.join(60)
    assert results and all(code == 201 for code, _ in results), results
    versions = [mv for _, mv in results]
    assert versions[0] == old and versions[-1] == new
    assert set(versions) == {old, new}
    # Once switched, never back: the swap is monotonic.
    first_new = versions.index(new)
    assert all(v == new for v in versions[first_new:])
    assert len(results) > n_before_stop
    subprocess.run([BIN / "windwatch", "models", "rollback"], env=server.env, check=True,
                   capture_output=True)

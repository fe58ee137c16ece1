"""The gateway's spool against a real server, across a restart of the gateway: snapshots taken
while the server is unreachable stay on disk, a restarted gateway sends them with their
original Idempotency-Key, a response lost before the spool forgot its entry is answered as a
replay, and the server ends up with every snapshot exactly once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import create_engine, text

from simulation.gateway import GatewayClient
from simulation.spool import Spool, flush
from tests.live_server import free_port, running_server
from tests.service.bodies import signal

N = 6
START = datetime(2026, 11, 2, tzinfo=UTC)


def gateway(url: str, headers: dict[str, str]) -> GatewayClient:
    key = headers.get("Authorization", "").removeprefix("Bearer ") or None
    return GatewayClient(url, timeout=30, backoff_s=0.1, max_backoff_s=1.0, api_key=key)


def test_spooled_snapshots_survive_a_gateway_restart_and_are_stored_once(tmp_path):
    spool_dir = tmp_path / "spool"
    with running_server(tmp_path) as server:
        # First life of the gateway: the server's address is wrong (down, as far as it knows).
        with gateway(f"http://127.0.0.1:{free_port()}", server.headers) as down:
            spool = Spool(spool_dir)
            for i in range(N):
                spool.put(down.encode("WT-S01", signal(seed=i), 25_600.0,
                                      START + timedelta(minutes=10 * i), "gearbox_hss",
                                      rpm=1500.0, channel_names=["x", "y", "z"]))
            result = flush(down, spool, max_wait_s=0.5)
            assert (result.sent, result.remaining) == (0, N)
        keys = [e.post.idempotency_key for e in Spool(spool_dir).entries()]

        # Second life: a new process would see only the spool folder.
        with gateway(server, server.headers) as up:
            spool = Spool(spool_dir)
            first = spool.entries()[0]
            lost = up.send_once(first.post)  # stored, but the gateway dies before forgetting it
            assert lost.status_code == 201, lost.text
            replies: list[int] = []
            original = up.send_once

            def recorded(post):
                r = original(post)
                replies.append(r.status_code)
                return r

            up.send_once = recorded  # type: ignore[method-assign]
            result = flush(up, spool)
            assert (result.sent, result.rejected, result.remaining) == (N, 0, 0)
            assert replies == [200] + [201] * (N - 1)  # the lost one is a replay
            assert spool.entries() == []

    engine = create_engine(server.env["WINDWATCH_DATABASE_URL"])
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT idempotency_key, id FROM batches")).all()
    engine.dispose()
    assert sorted(k for k, _ in stored) == sorted(keys)
    assert dict(stored)[first.post.idempotency_key] == lost.json()["batch_id"]

"""The gateway spool on its own: durable entries, FIFO order, one entry per key, a full spool
refuses (logged) and drops nothing, backoff honours Retry-After, a definitive 4xx is set aside."""

from __future__ import annotations

import logging

import httpx
import pytest

from simulation.gateway import GatewayClient, PreparedPost
from simulation.spool import Spool, SpoolFull, flush


def post(i: int, size: int = 100) -> PreparedPost:
    return PreparedPost(f"WT-{i:03d}", bytes([i % 256]) * size, "application/x-npy", f"key-{i}",
                        {"sensor": "s"})


def test_entries_survive_a_reopen_in_order_and_a_key_is_spooled_once(tmp_path):
    spool = Spool(tmp_path)
    for i in (3, 1, 2):
        spool.put(post(i))
    spool.put(post(1))  # the same snapshot again (a restart re-reading its source)
    (tmp_path / "000000000099-crashed.tmp").write_bytes(b"half")  # a put cut short
    reopened = Spool(tmp_path)
    assert [e.post for e in reopened.entries()] == [post(3), post(1), post(2)]
    assert not list(tmp_path.glob("*.tmp"))
    reopened.put(post(4))
    assert reopened.entries()[-1].post == post(4)  # numbering continues after the restart


def test_a_full_spool_refuses_new_snapshots_and_keeps_the_old(tmp_path, caplog):
    spool = Spool(tmp_path, max_files=2)
    spool.put(post(1))
    spool.put(post(2))
    with caplog.at_level(logging.ERROR), pytest.raises(SpoolFull):
        spool.put(post(3))
    assert "spool full" in caplog.text and "key-3" in caplog.text
    assert [e.post.idempotency_key for e in spool.entries()] == ["key-1", "key-2"]
    small = Spool(tmp_path / "bytes", max_bytes=500)
    small.put(post(1, size=300))
    with pytest.raises(SpoolFull):
        small.put(post(2, size=300))


def client_answering(statuses: list[tuple[int, dict]], seen: list[str]) -> GatewayClient:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["Idempotency-Key"])
        status, headers = statuses.pop(0) if statuses else (201, {})
        return httpx.Response(status, headers=headers, json={"detail": "x"})

    return GatewayClient("http://gw.test", transport=httpx.MockTransport(handler),
                         backoff_s=0.1, max_backoff_s=10)


def test_flush_backs_off_honouring_retry_after_and_resends_the_same_key(tmp_path):
    spool, seen, sleeps = Spool(tmp_path), [], []
    spool.put(post(1))
    spool.put(post(2))
    client = client_answering([(503, {"Retry-After": "3"}), (502, {}), (429, {"Retry-After": "1"})],
                              seen)
    result = flush(client, spool, sleep=sleeps.append)
    assert (result.sent, result.rejected, result.remaining) == (2, 0, 0)
    assert seen == ["key-1"] * 3 + ["key-1", "key-2"]
    assert sleeps == [3.0, 0.2, 1.0]  # Retry-After wins over the exponential backoff


def test_flush_gives_up_after_max_wait_and_keeps_the_entry(tmp_path):
    spool, seen, sleeps = Spool(tmp_path), [], []
    spool.put(post(1))
    result = flush(client_answering([(503, {})] * 100, seen), spool, max_wait_s=1.0,
                   sleep=sleeps.append)
    assert result.remaining == 1 and sum(sleeps) <= 1.0 and len(seen) > 1


def test_a_definitive_4xx_is_set_aside_logged_not_dropped(tmp_path, caplog):
    spool, seen = Spool(tmp_path), []
    spool.put(post(1))
    spool.put(post(2))
    with caplog.at_level(logging.ERROR):
        result = flush(client_answering([(422, {})], seen), spool, sleep=lambda _: None)
    assert (result.sent, result.rejected, result.remaining) == (1, 1, 0)
    assert len(list(spool.rejected_dir.glob("*.snap"))) == 1 and "refused with 422" in caplog.text

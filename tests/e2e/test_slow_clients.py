"""Slow clients against a real server: 50 connections that trickle their headers, trickle
their body or stall mid-body are all cut off within the configured bounds, while a normal
client keeps getting prompt answers."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from tests.conftest import run_async
from tests.live_server import running_server

pytestmark = pytest.mark.e2e
HEADER_S, BODY_S, SLACK_S = 2.0, 4.0, 1.5


@pytest.fixture(scope="module")
def slow_server(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("slow"), WINDWATCH_HEADER_TIMEOUT_S=str(HEADER_S),
                        WINDWATCH_BODY_TIMEOUT_S=str(BODY_S)) as srv:
        yield srv


async def slow_client(port: int, head: bytes, trickle: bytes, every_s: float,
                      give_up_s: float = 20.0) -> tuple[float, bytes]:
    """Send ``head``, then ``trickle`` every ``every_s`` (nothing if empty) until the server
    closes the connection: (seconds until closed, what the server answered)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    t0 = time.monotonic()
    writer.write(head)
    answer = b""

    async def feed() -> None:
        while trickle:
            await asyncio.sleep(every_s)
            writer.write(trickle)
            await writer.drain()

    feeder = asyncio.create_task(feed())
    try:
        while chunk := await asyncio.wait_for(reader.read(4096), give_up_s):
            answer += chunk
    except (ConnectionError, TimeoutError):
        pass
    finally:
        feeder.cancel()
        writer.close()
    return time.monotonic() - t0, answer


async def normal_client(url: str, headers: dict, stop: asyncio.Event) -> list[tuple[int, float]]:
    """GETs in a loop while the slow clients hang on: (status, seconds) of each."""
    out = []
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=10) as http:
        while not stop.is_set():
            t0 = time.monotonic()
            r = await http.get("/api/v1/models")
            out.append((r.status_code, time.monotonic() - t0))
            await asyncio.sleep(0.2)
    return out


def test_slow_headers_and_bodies_are_cut_off_while_others_are_served(slow_server):
    port = int(slow_server.rsplit(":", 1)[1])
    auth = "".join(f"{k}: {v}\r\n" for k, v in slow_server.headers.items()).encode()
    post = (b"POST /api/v1/turbines/WT-SLOW/batches HTTP/1.1\r\nHost: 127.0.0.1\r\n" + auth
            + b"Content-Type: application/json\r\nContent-Length: 1000000\r\n\r\n")
    kinds = {
        # the request line and then one header line every 0.5 s, never the blank line
        "slow headers": (b"GET /api/v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\n", b"X-Pad: 1\r\n",
                         0.5, HEADER_S),
        # the headers, then 100 bytes every 0.5 s: never idle, but never done either
        "trickling body": (post + b'{"channels": ', b" " * 100, 0.5, BODY_S),
        # the headers and a few bytes, then silence
        "stalled body": (post + b'{"sensor"', b"", 0.0, HEADER_S),
        # connects and says nothing at all
        "silent": (b"", b"", 0.0, HEADER_S),
    }
    plan = [k for k in kinds for _ in range(20 if k in ("slow headers", "trickling body") else 5)]
    assert len(plan) == 50

    async def run():
        stop = asyncio.Event()
        normal = asyncio.create_task(normal_client(slow_server, slow_server.headers, stop))
        results = await asyncio.gather(*(slow_client(port, *kinds[k][:3]) for k in plan))
        stop.set()
        return results, await normal

    results, answers = run_async(run())
    for kind, (took, answer) in zip(plan, results, strict=True):
        bound = kinds[kind][3]
        assert took < bound + SLACK_S, (kind, took, answer[:200])
        assert took > bound - 0.5, (kind, took, answer[:200])  # not cut off before its time
        if kind in ("trickling body", "stalled body"):
            assert answer.startswith(b"HTTP/1.1 408 "), (kind, answer[:300])
            assert b'"detail"' in answer
        elif kind == "slow headers":
            assert answer.startswith(b"HTTP/1.1 408 "), (kind, answer[:300])
        else:
            assert answer == b""
    assert len(answers) >= 10 and all(status == 200 for status, _ in answers), answers
    assert max(t for _, t in answers) < 2.0, answers
    # and afterwards the server is as responsive as before
    assert httpx.get(f"{slow_server}/api/v1/models", headers=slow_server.headers,
                     timeout=5).status_code == 200

"""Slow clients are cut off: the body timeout (an ASGI wrapper around ``receive``) and the
header timeout (uvicorn protocol subclasses, both flavours, on a real socket)."""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import pytest
import uvicorn
from starlette.requests import Request
from starlette.responses import JSONResponse

from service import http_protocol
from service.timeouts import BodyTimeoutMiddleware
from tests.conftest import run_async
from tests.live_server import free_port


async def echo_length(scope, receive, send):
    """Reads the whole body and answers its length; a parse failure becomes a 400 (as
    FastAPI's body parsing does), which the wrapper must turn back into the 408."""
    request = Request(scope, receive)
    try:
        body = await request.body()
    except Exception as exc:
        if getattr(exc, "status_code", None) == 408:
            raise
        await JSONResponse({"detail": "error parsing the body"}, status_code=400)(scope, receive, send)
        return
    await JSONResponse({"n": len(body)})(scope, receive, send)


def call(app, chunks: list[tuple[float, bytes]]) -> tuple[int, dict, float]:
    """Run ``app`` with a body arriving as (delay before, bytes) chunks; (status, json, s)."""
    import orjson

    async def run():
        queue = list(chunks)

        async def receive():
            if not queue:
                await asyncio.sleep(3600)  # the client is still connected, saying nothing
            delay, data = queue.pop(0)
            await asyncio.sleep(delay)
            return {"type": "http.request", "body": data, "more_body": bool(queue)}

        sent = []

        async def send(message):
            sent.append(message)

        scope = {"type": "http", "method": "POST", "path": "/", "headers": [], "query_string": b""}
        t0 = time.monotonic()
        await app(scope, receive, send)
        body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
        return sent[0]["status"], orjson.loads(body), time.monotonic() - t0, sent[0]["headers"]

    status, body, took, headers = run_async(run())
    if status == 408:
        assert (b"connection", b"close") in [(k.lower(), v) for k, v in headers]
    return status, body, took


@pytest.mark.parametrize("convert", [False, True])
def test_a_stalled_body_gets_408_after_the_idle_timeout(convert):
    inner = echo_length if not convert else _converting(echo_length)
    app = BodyTimeoutMiddleware(inner, idle_s=0.3, total_s=5)
    status, body, took = call(app, [(0, b"{"), (10, b"}")])
    assert status == 408 and "no request body data for 0.3 s" in body["detail"]
    assert 0.25 < took < 1.5


def test_a_trickling_body_gets_408_at_the_overall_deadline():
    app = BodyTimeoutMiddleware(echo_length, idle_s=0.3, total_s=1.0)
    status, body, took = call(app, [(0.2, b"x")] * 50)
    assert status == 408 and "incomplete after 1 s" in body["detail"]
    assert 0.9 < took < 2.0


def test_a_body_in_time_is_read_and_waiting_for_disconnect_is_no_timeout():
    async def listen_after_body(scope, receive, send):
        await echo_length(scope, _then_disconnect(receive, after_s=0.6), send)

    app = BodyTimeoutMiddleware(listen_after_body, idle_s=0.3, total_s=1.0)
    assert call(app, [(0.1, b"ab"), (0.1, b"cd")])[:2] == (200, {"n": 4})


def _converting(app):
    """An app layer that turns any exception into a 400, as FastAPI's body parsing does."""
    async def wrapped(scope, receive, send):
        try:
            await app(scope, receive, send)
        except Exception:
            await JSONResponse({"detail": "There was an error parsing the body"},
                               status_code=400)(scope, receive, send)
    return wrapped


def _then_disconnect(receive, after_s: float):
    state = {"done": False}

    async def wrapped():
        if state["done"]:
            await asyncio.sleep(after_s)
            return {"type": "http.disconnect"}
        message = await receive()
        state["done"] = not message.get("more_body")
        return message
    return wrapped


async def hello(scope, receive, send):
    await JSONResponse({"ok": True})(scope, receive, send)


@pytest.fixture(params=["HeaderTimeoutHttpTools", "HeaderTimeoutH11"])
def protocol_server(request, monkeypatch):
    """A uvicorn (in a thread) speaking one of the protocols, with a 0.5 s header timeout."""
    monkeypatch.setattr(http_protocol, "_header_timeout_s", lambda: 0.5)
    port = free_port()
    config = uvicorn.Config(hello, host="127.0.0.1", port=port, lifespan="off", log_level="warning",
                            http=getattr(http_protocol, request.param), timeout_keep_alive=5)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    yield port
    server.should_exit = True
    thread.join(10)


def read_until_closed(sock: socket.socket, limit_s: float = 5.0) -> tuple[bytes, float]:
    """Everything the server sends until it closes the connection, and when that happened."""
    t0, data = time.monotonic(), b""
    sock.settimeout(limit_s)
    while True:
        try:
            chunk = sock.recv(4096)
        except (TimeoutError, ConnectionResetError):
            break
        if not chunk:
            break
        data += chunk
    return data, time.monotonic() - t0


def test_a_silent_connection_is_closed(protocol_server):
    with socket.create_connection(("127.0.0.1", protocol_server)) as s:
        data, took = read_until_closed(s)
    assert data == b"" and 0.4 < took < 2.0


def test_headers_trickling_in_get_408_and_a_close(protocol_server):
    with socket.create_connection(("127.0.0.1", protocol_server)) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        data, took = read_until_closed(s)
    assert data.startswith(b"HTTP/1.1 408 ") and took < 2.0


def test_requests_in_time_are_served_and_keep_alive_is_bounded(protocol_server):
    with socket.create_connection(("127.0.0.1", protocol_server)) as s:
        # Two pipelined requests, then silence: both answered, then the connection closes.
        s.sendall(b"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n")
        data, took = read_until_closed(s)
    assert data.count(b"HTTP/1.1 200 OK") == 2 and b"408" not in data
    assert took < 2.0

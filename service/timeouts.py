"""Request bodies that must arrive in time: a pure ASGI wrapper around ``receive``.

A client that pauses longer than ``idle_s`` between two body chunks, or whose whole body has
not arrived ``total_s`` after the request started, gets a 408 and its connection is closed,
so a slow sender cannot hold a worker's memory and a connection slot for minutes. Header
timeouts live in the HTTP protocol (``service.http_protocol``): the app never sees a request
whose headers are incomplete.
"""

from __future__ import annotations

import asyncio

import structlog
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = structlog.get_logger("windwatch.http")


class RequestTimeout(HTTPException):
    """The request body did not arrive in time (408; the connection is closed)."""

    def __init__(self, detail: str) -> None:
        super().__init__(status_code=408, detail=detail, headers={"Connection": "close"})


class BodyTimeoutMiddleware:
    """Times out reading the request body: per chunk (``idle_s``) and overall (``total_s``)."""

    def __init__(self, app: ASGIApp, idle_s: float, total_s: float) -> None:
        self.app = app
        self.idle_s = idle_s
        self.total_s = total_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.total_s
        body_done = False
        timed_out: list[str] = []  # the 408's detail, once the body is late
        replaced = False  # the app's own response was swapped for the 408
        started = False

        async def timed_receive() -> Message:
            nonlocal body_done
            if body_done:
                # After the body, receive() only waits for http.disconnect (streaming responses
                # listen for it): never a timeout there.
                return await receive()
            remaining = deadline - loop.time()
            wait = min(self.idle_s, remaining)
            try:
                if wait <= 0:
                    raise TimeoutError
                message = await asyncio.wait_for(receive(), wait)
            except TimeoutError:
                detail = (f"request body incomplete after {self.total_s:g} s" if wait == remaining
                          or wait <= 0 else f"no request body data for {self.idle_s:g} s")
                timed_out.append(detail)
                raise RequestTimeout(detail) from None
            if message["type"] != "http.request" or not message.get("more_body", False):
                body_done = True
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal replaced, started
            started = started or message["type"] == "http.response.start"
            if replaced:
                return  # the body of the response that was replaced
            if message["type"] == "http.response.start" and timed_out and message["status"] != 408:
                # Something between here and the route turned the timeout into another error
                # (e.g. "error parsing the body"): the client is told the truth.
                replaced = True
                await _send_408(send, timed_out[0])
                return
            await send(message)

        try:
            await self.app(scope, timed_receive, guarded_send)
        except Exception:
            # The timeout may come back as itself, or wrapped (an ExceptionGroup from a
            # BaseHTTPMiddleware's task group): either way, unanswered, it is our 408.
            if not timed_out or started:
                raise
            await _send_408(send, timed_out[0])
        if timed_out:
            client = scope.get("client")
            log.warning("request body timeout", path=scope.get("path"), detail=timed_out[0],
                        client=client[0] if client else None)


async def _send_408(send: Send, detail: str) -> None:
    import orjson

    body = orjson.dumps({"detail": detail})
    await send({"type": "http.response.start", "status": 408, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body, "more_body": False})

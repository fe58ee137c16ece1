"""uvicorn's HTTP protocols with a header-read timeout.

uvicorn closes idle keep-alive connections (``timeout_keep_alive``) but waits for ever on a
fresh connection whose request line and headers trickle in a byte at a time, so a few hundred
such clients hold the server's connections indefinitely. These subclasses arm a timer when a
connection opens and after each response; unless the next request's headers are complete
before it fires, the connection gets a 408 and is closed. Body timeouts are the app's
(``service.timeouts``), which can answer with a JSON 408.

``windwatch serve`` passes ``HTTP_PROTOCOL`` to uvicorn as ``http=``; the timeout is
``WINDWATCH_HEADER_TIMEOUT_S``, read in each worker process.
"""

from __future__ import annotations

import asyncio
import importlib.util
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

HAVE_HTTPTOOLS = importlib.util.find_spec("httptools") is not None
if HAVE_HTTPTOOLS:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
else:  # pragma: no cover - uvicorn[standard] brings httptools
    HttpToolsProtocol = H11Protocol  # type: ignore[misc, assignment]

TIMEOUT_RESPONSE = (b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
                    b"content-length: 33\r\nconnection: close\r\n\r\nrequest headers not sent in time\n")


def _header_timeout_s() -> float:
    from service.settings import get_settings

    return get_settings().header_timeout_s


class _HeaderDeadline:
    """The timer shared by both protocol flavours (mixed in before uvicorn's class)."""

    transport: asyncio.Transport
    loop: asyncio.AbstractEventLoop
    header_timer: asyncio.TimerHandle | None = None

    def _arm_header_timer(self) -> None:
        self._disarm_header_timer()
        self.header_timer = self.loop.call_later(_header_timeout_s(), self._headers_too_slow)

    def _disarm_header_timer(self) -> None:
        if self.header_timer is not None:
            self.header_timer.cancel()
            self.header_timer = None

    def _headers_too_slow(self) -> None:
        self.header_timer = None
        if not self.transport.is_closing():
            if not getattr(self, "_partial_request", False):
                self.transport.close()  # nothing sent at all: just hang up
                return
            self.transport.write(TIMEOUT_RESPONSE)
            self.transport.close()


class HeaderTimeoutHttpTools(_HeaderDeadline, HttpToolsProtocol):
    """httptools-based protocol (uvicorn's default) with a header-read deadline."""

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self._partial_request = False
        self._arm_header_timer()

    def data_received(self, data: bytes) -> None:
        if self.header_timer is not None:
            self._partial_request = True
        super().data_received(data)

    def on_headers_complete(self) -> None:
        self._disarm_header_timer()
        self._partial_request = False
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        pipelined = bool(self.pipeline)
        super().on_response_complete()
        if not pipelined and not self.transport.is_closing():
            self._partial_request = False
            self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_timer()
        super().connection_lost(exc)


class HeaderTimeoutH11(_HeaderDeadline, H11Protocol):
    """h11-based protocol (pure Python) with a header-read deadline."""

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self._partial_request = False
        self._arm_for_next_request()

    def _arm_for_next_request(self) -> None:
        # h11 has no headers-complete callback; a new request cycle is the sign instead.
        self._armed_cycle = self.cycle
        self._arm_header_timer()

    def data_received(self, data: bytes) -> None:
        if self.header_timer is not None:
            self._partial_request = True
        super().data_received(data)

    def handle_events(self) -> None:
        super().handle_events()
        if self.header_timer is not None and self.cycle is not self._armed_cycle:
            self._disarm_header_timer()

    def on_response_complete(self) -> None:
        super().on_response_complete()  # may already start a pipelined request's cycle
        if not self.transport.is_closing() and (self.cycle is None or self.cycle.response_complete):
            self._partial_request = False
            self._arm_for_next_request()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_timer()
        super().connection_lost(exc)


# Like uvicorn's "auto": httptools where it is installed, h11 otherwise.
HTTP_PROTOCOL = ("service.http_protocol:HeaderTimeoutHttpTools" if HAVE_HTTPTOOLS
                 else "service.http_protocol:HeaderTimeoutH11")

"""uvicorn's HTTP/1.1 protocol with a deadline and a size limit for a request's head, so a stalled or
bloated client cannot hold a slot.

uvicorn times out only idle keep-alive connections, and stops that clock at the first byte: a client that sends
half a header and stalls (slowloris) keeps its connection forever. 260 of them sent every other request a 503
(uvicorn counts open connections against `limit_concurrency`). Here each connection must finish its request
line and headers within HEAD_TIMEOUT of connecting (or of its previous response), or is closed; a head over
MAX_HEAD bytes is answered 400 and closed.

The parser is httptools (llhttp, in C) where it is installed, h11 (pure Python) otherwise: under 32 clients
sending 28x28 photos, httptools with uvloop's event loop served about 1.2x the requests per second of h11
with asyncio's (bench/serve_latency.py, docs/serving.md). h11 limits the head itself
(`h11_max_incomplete_event_size`); for httptools the byte count is kept here.
"""
from __future__ import annotations

import asyncio
import resource

from uvicorn.protocols.http.h11_impl import H11Protocol

HEAD_TIMEOUT = 10.0  # s: a phone on a slow link sends a request's headers (< 16 KB) in well under a second
MAX_HEAD = 16 * 1024  # bytes of request line and headers: larger gets 400


def connection_limit() -> int:
    """Open connections uvicorn accepts before it answers 503: half the file descriptors this process may open
    (the rest for model files, logs and accept), at most 4,096."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return max(64, min(4096, (soft if soft != resource.RLIM_INFINITY else 8192) // 2))


class HeadTimeout:
    """Mixed into a uvicorn HTTP protocol: a connection must deliver a request's head within `head_timeout`
    seconds. Both protocols set `cycle` when a head is complete and `cycle.response_complete` when answered."""

    head_timeout = HEAD_TIMEOUT
    _head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self._waiting_for_head() and self._head_timer is None:  # a keep-alive connection's next request
            self._arm()
        super().data_received(data)
        if not self._waiting_for_head():
            self._disarm()

    def connection_lost(self, exc) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _waiting_for_head(self) -> bool:
        return self.cycle is None or self.cycle.response_complete

    def _arm(self) -> None:
        self._disarm()
        self._head_timer = self.loop.call_later(self.head_timeout, self._expire)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _expire(self) -> None:
        self._head_timer = None
        if self._waiting_for_head() and not self.transport.is_closing():
            self.transport.close()


class HeadTimeoutH11(HeadTimeout, H11Protocol):
    """h11 with the head deadline; uvicorn's `h11_max_incomplete_event_size` limits the head's size."""


def _httptools_protocol() -> type | None:
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:  # httptools not installed
        return None

    class HeadLimitedHttpTools(HeadTimeout, HttpToolsProtocol):
        """httptools with the head deadline and MAX_HEAD: llhttp itself accepts a head of any size."""

        _head_bytes = 0

        def on_message_begin(self) -> None:
            self._head_bytes = 0
            super().on_message_begin()

        def on_url(self, url: bytes) -> None:
            self._count(len(url))
            super().on_url(url)

        def on_header(self, name: bytes, value: bytes) -> None:
            self._count(len(name) + len(value) + 4)  # ": " and CRLF
            super().on_header(name, value)

        def _count(self, n: int) -> None:
            self._head_bytes += n
            if self._head_bytes > MAX_HEAD:  # raised inside the parser's callback: uvicorn answers 400, closes
                raise ValueError(f"request head over {MAX_HEAD} bytes")

    return HeadLimitedHttpTools


HeadTimeoutHttpTools = _httptools_protocol()


def with_head_timeout(seconds: float, parser: str = "auto") -> type[HeadTimeout]:
    """The protocol class for `parser` ('httptools', 'h11', or 'auto': httptools where installed) with another
    head deadline (tests use a short one)."""
    base = HeadTimeoutH11 if parser == "h11" or HeadTimeoutHttpTools is None else HeadTimeoutHttpTools
    if parser == "httptools" and HeadTimeoutHttpTools is None:
        raise RuntimeError("httptools is not installed")
    return type(base.__name__, (base,), {"head_timeout": seconds})

"""uvicorn's HTTP/1.1 protocol (h11) with a deadline for a request's head, so a stalled client cannot hold a slot.

uvicorn times out only idle keep-alive connections, and stops that clock at the first byte: a client that sends
half a header and stalls (slowloris) keeps its connection forever. 260 of them sent every other request a 503
(uvicorn counts open connections against `limit_concurrency`). Here each connection must finish its request
line and headers within HEAD_TIMEOUT of connecting (or of its previous response), or is closed.
"""
from __future__ import annotations

import asyncio
import resource

from uvicorn.protocols.http.h11_impl import H11Protocol

HEAD_TIMEOUT = 10.0  # s: a phone on a slow link sends a request's headers (< 16 KB) in well under a second


def connection_limit() -> int:
    """Open connections uvicorn accepts before it answers 503: half the file descriptors this process may open
    (the rest for model files, logs and accept), at most 4,096."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return max(64, min(4096, (soft if soft != resource.RLIM_INFINITY else 8192) // 2))


class HeadTimeoutH11(H11Protocol):
    """H11Protocol whose connections must deliver a request's head within `head_timeout` seconds."""

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


def with_head_timeout(seconds: float) -> type[HeadTimeoutH11]:
    """The protocol class with another deadline (tests use a short one)."""
    return type("HeadTimeoutH11", (HeadTimeoutH11,), {"head_timeout": seconds})

"""A byte budget shared by the requests decoding photos at once: each holds what its photo will cost.

Cores bound how many photos are worth decoding at once, memory bounds how many can be: 32 clients sending a
6,300 x 6,300 PNG (159 MB decoded each) took the server to 1.8 GB when only the thread count limited them.
With a budget, the 4th such photo waits for one of the first three, and small photos pass beside them.
"""
from __future__ import annotations

import contextlib

import anyio

DEFAULT_BUDGET = 512 * 1024 * 1024  # bytes: three photos at the 40 Mpixel cap, or thousands of phone JPEGs


class MemoryBudget:
    """An async weighted semaphore over bytes; first come, first served among those that fit."""

    def __init__(self, total: int = DEFAULT_BUDGET):
        self.total = total
        self.free = total
        self._changed = anyio.Condition()

    @contextlib.asynccontextmanager
    async def hold(self, cost: int):
        """Wait until `cost` bytes are free (all of it, for a photo larger than the whole budget), hold them."""
        cost = max(0, min(cost, self.total))
        async with self._changed:
            while self.free < cost:
                await self._changed.wait()
            self.free -= cost
        try:
            yield
        finally:
            with anyio.CancelScope(shield=True):  # a client that hangs up still gives the bytes back
                async with self._changed:
                    self.free += cost
                    self._changed.notify_all()

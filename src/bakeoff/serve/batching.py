"""Concurrent requests for the same model share one forward pass.

Each request announces its view (`expect`) as it starts decoding and preprocessing its photo (in the app's
thread pool), then hands the normalized view to the model's Batcher and waits. The Batcher's worker thread
takes the first view waiting and everything already queued behind it; while views are still announced, it
waits for them, at most `window_ms` after the first view arrived; it stops at `max_batch`, runs one forward
on the stack and gives each request its own row. A lone request therefore never waits, and a busy server
waits only for photos already being prepared. A batched forward costs far less per image than one image at
a time on a CPU (Fashion-MNIST fast-net-s, PyTorch, one thread: 1.0 ms for 1 image, 0.65 ms each for 4,
0.42 ms each for 32, on the 2-core development machine), but only large batches pay: under 32 clients a
fixed 2 ms window gathered 1.1-2.1 views per forward. The waiting request holds no thread of the pool.

A forward that raises fails the requests of that batch alone (BatchFailed, naming the model); the worker
goes on with the next batch. `close()` answers what is queued, then refuses new views (BatcherClosed).
"""
from __future__ import annotations

import asyncio
import contextlib
import math
import queue
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..errors import ConfigError, one_line

DEFAULT_WINDOW_MS = 25.0  # ms a forward waits at most for announced views after its first: what a request
# pays at most for company under load (a lone request pays nothing)
DEFAULT_MAX_BATCH = 32  # views per forward: fast-net-s costs 0.42-0.46 ms per image at 16-32
MAX_WINDOW_MS = 100.0  # longer is a typo: a busy server's requests would wait that long for company
MAX_BATCH = 1024


class BatchFailed(Exception):
    """The forward of a batch raised: every request of that batch gets this, the next batch runs as usual."""


class BatcherClosed(BatchFailed):
    """The server is shutting down: no forward will run for this view."""


def check_batching(window_ms: float, max_batch: int) -> None:
    """The serve flags' domains, as one line before anything loads."""
    if not (math.isfinite(window_ms) and 0 <= window_ms <= MAX_WINDOW_MS):
        raise ConfigError(f"--batch-window-ms must be in 0..{MAX_WINDOW_MS:g} (0: no batching), got {window_ms}")
    if not 1 <= max_batch <= MAX_BATCH:
        raise ConfigError(f"--max-batch must be in 1..{MAX_BATCH}, got {max_batch}")


_WAKE = object()  # queued by `withdraw`: the worker re-reads how many views are still coming


@dataclass
class _Waiting:
    x: np.ndarray  # (1, C, H, W) float32, normalized as the model was trained
    future: Future
    queued_at: float = field(default_factory=time.perf_counter)


class Batcher:
    """One model's queue of views and the worker thread that runs them through `forward` in batches."""

    def __init__(self, forward: Callable[[np.ndarray], np.ndarray], window_ms: float = DEFAULT_WINDOW_MS,
                 max_batch: int = DEFAULT_MAX_BATCH, name: str = "model"):
        self.forward = forward  # float32 (B, C, H, W) -> logits (B, K)
        self.window = window_ms / 1000  # s
        self.max_batch = max_batch
        self.name = name
        self._queue: queue.SimpleQueue = queue.SimpleQueue()  # _Waiting, _WAKE, or None: stop
        self._lock = threading.Lock()  # orders submit against close (nothing is queued behind the stop mark)
        self._closed = False  # and guards _coming
        self._coming = 0  # views announced by `expect` and not yet submitted or withdrawn
        self._worker = threading.Thread(target=self._run, name=f"batcher-{name}", daemon=True)
        self._worker.start()

    def expect(self, n: int = 1) -> None:
        """`n` views are being prepared: a forward under way waits for them (at most the window)."""
        with self._lock:
            self._coming += n

    def withdraw(self, n: int = 1) -> None:
        """`n` announced views will not come (their photo failed, their client left): wait no more for them."""
        with self._lock:
            self._coming = max(0, self._coming - n)
            self._queue.put(_WAKE)

    def submit(self, x: np.ndarray) -> Future:
        """A future for the logits (K,) of one view, float32 (1, C, H, W); fulfils one announcement, if any."""
        future: Future = Future()
        with self._lock:
            self._coming = max(0, self._coming - 1)
            if self._closed:
                future.set_exception(BatcherClosed(f"{self.name}: the server is shutting down"))
            else:
                self._queue.put(_Waiting(x, future))
        return future

    def close(self, timeout: float = 10.0) -> None:
        """Answer every view already queued, then stop the worker (waiting at most `timeout` seconds)."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._queue.put(None)
        self._worker.join(timeout)

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                return
            if first is _WAKE:
                continue
            batch = [first]
            deadline = first.queued_at + self.window  # a view that waited through the last forward goes at once
            while len(batch) < self.max_batch:
                with self._lock:
                    wait = deadline - time.perf_counter() if self._coming else 0.0
                try:  # what is queued, then, while views are announced, what arrives before the deadline
                    item = self._queue.get(timeout=wait) if wait > 0 else self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                    break
                if item is not _WAKE:
                    batch.append(item)
            self._forward(batch)

    def _forward(self, batch: list[_Waiting]) -> None:
        live = [w for w in batch if w.future.set_running_or_notify_cancel()]  # a client that left is skipped
        if not live:
            return
        try:
            logits = np.asarray(self.forward(np.concatenate([w.x for w in live])))  # (B, C, H, W) -> (B, K)
            if logits.ndim != 2 or len(logits) != len(live):
                raise ValueError(f"forward returned shape {logits.shape} for {len(live)} inputs")
        except Exception as e:
            why = f"{self.name}: the forward pass failed on a batch of {len(live)} ({one_line(e, 300)})"
            for w in live:
                w.future.set_exception(BatchFailed(why))
            return
        for w, row in zip(live, logits):
            w.future.set_result(row)


class ModelBatchers:
    """A Batcher per model, by name; `forward` runs one request's views through each of its models at once."""

    def __init__(self, models, window_ms: float = DEFAULT_WINDOW_MS, max_batch: int = DEFAULT_MAX_BATCH):
        self.by_name = {m.name: Batcher(m.forward, window_ms, max_batch, m.name) for m in models}

    @contextlib.contextmanager
    def preparing(self, names: list[str]):
        """Announce a view for each model named while the block prepares them; withdrawn if the block fails."""
        for name in names:
            self.by_name[name].expect()
        try:
            yield
        except BaseException:  # a bad photo, a client gone (cancelled): nobody waits for these views
            for name in names:
                self.by_name[name].withdraw()
            raise

    async def forward(self, inputs: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], dict[str, float]]:
        """({model: logits (K,)}, {model: ms from handing the view over to its answer}) for {model: (1, C, H, W)}."""
        logits, ms = {}, {}
        start = time.perf_counter()
        # Every view is submitted before the first await: a request cancelled from here on has fulfilled its
        # announcements (`preparing`), so no batcher goes on waiting for a view that will never come.
        futures = {name: asyncio.wrap_future(self.by_name[name].submit(x)) for name, x in inputs.items()}

        async def one(name: str, future: asyncio.Future) -> None:
            logits[name] = await future
            ms[name] = 1000 * (time.perf_counter() - start)

        await asyncio.gather(*(one(name, f) for name, f in futures.items()))
        return logits, ms

    def close(self) -> None:
        for b in self.by_name.values():
            b.close()

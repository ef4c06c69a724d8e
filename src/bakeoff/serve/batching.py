"""Concurrent requests for the same model share one forward pass.

Each request decodes and preprocesses its own photo (in the app's thread pool), then hands its normalized
view to the model's Batcher and waits. The Batcher's worker thread takes the first view waiting, gathers
whatever else arrives within `window_ms` of it (at most `max_batch`), runs one forward on the stack and gives
each request its own row. A batched forward costs far less per image than one image at a time on a CPU
(Fashion-MNIST fast-net-s, PyTorch, 1 thread: 1.03 ms for 1 image, 9.0 ms for 32, measured on the 2-core
development machine), and the waiting request holds no thread of the pool meanwhile.

A forward that raises fails the requests of that batch alone (BatchFailed, naming the model); the worker
goes on with the next batch. `close()` answers what is queued, then refuses new views (BatcherClosed).
"""
from __future__ import annotations

import asyncio
import math
import queue
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..errors import ConfigError, one_line

DEFAULT_WINDOW_MS = 2.0  # ms a forward waits for company after its first view: what a lone request pays at most;
# 32 clients sending 28x28 PNGs to a 2-core server: 2.1 views per forward on average (camera frames: 1.1)
DEFAULT_MAX_BATCH = 32  # views per forward: fast-net-s costs 0.28 ms per image at 32 against 1.0 ms alone
MAX_WINDOW_MS = 100.0  # longer is a typo: every lone request would wait that long
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
        self._queue: queue.SimpleQueue[_Waiting | None] = queue.SimpleQueue()
        self._lock = threading.Lock()  # orders submit against close: nothing is queued behind the stop mark
        self._closed = False
        self._worker = threading.Thread(target=self._run, name=f"batcher-{name}", daemon=True)
        self._worker.start()

    def submit(self, x: np.ndarray) -> Future:
        """A future for the logits (K,) of one view, float32 (1, C, H, W)."""
        future: Future = Future()
        with self._lock:
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
            batch = [first]
            deadline = first.queued_at + self.window  # a view that waited through the last forward goes at once
            while len(batch) < self.max_batch:
                try:
                    item = self._queue.get(timeout=max(0.0, deadline - time.perf_counter()))
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                    break
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

    async def forward(self, inputs: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], dict[str, float]]:
        """({model: logits (K,)}, {model: ms from handing the view over to its answer}) for {model: (1, C, H, W)}."""
        logits, ms = {}, {}

        async def one(name: str, x: np.ndarray) -> None:
            start = time.perf_counter()
            logits[name] = await asyncio.wrap_future(self.by_name[name].submit(x))
            ms[name] = 1000 * (time.perf_counter() - start)

        await asyncio.gather(*(one(name, x) for name, x in inputs.items()))
        return logits, ms

    def close(self) -> None:
        for b in self.by_name.values():
            b.close()

"""Peak memory of a run: the GPU allocator's own peak on CUDA, resident set size sampled on CPU.

On CPU the process's lifetime peak (ru_maxrss) only ever grows, so a grid's later runs would inherit the
first big run's peak; a sampling thread reads /proc/self/statm instead and reports the peak during this run.
"""
from __future__ import annotations

import os
import threading

import torch

from .heap import release_free_memory

SAMPLE_EVERY_S = 0.02  # training steps take milliseconds; allocations live at least a step
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss_bytes() -> int | None:
    """Resident set size now, or None where /proc is missing (not Linux)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return None


class PeakMemory:
    """`with PeakMemory(device) as pm: ...` then `pm.peak_mb`: the highest memory seen inside the block."""

    def __init__(self, device: torch.device):
        self.device = device
        self.peak_bytes: int | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> "PeakMemory":
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
        elif rss_bytes() is not None:
            release_free_memory()  # what earlier runs freed but the heap kept is not this run's memory
            self.peak_bytes = rss_bytes()
            self._thread = threading.Thread(target=self._sample, daemon=True, name="peak-memory")
            self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(SAMPLE_EVERY_S):
            self.peak_bytes = max(self.peak_bytes, rss_bytes() or 0)

    def __exit__(self, *exc) -> None:
        if self.device.type == "cuda":
            self.peak_bytes = torch.cuda.max_memory_allocated(self.device)
        elif self._thread is not None:
            self._stop.set()
            self._thread.join()
            self.peak_bytes = max(self.peak_bytes, rss_bytes() or 0)

    @property
    def peak_mb(self) -> float | None:
        return None if self.peak_bytes is None else self.peak_bytes / 2**20

    @property
    def kind(self) -> str:
        """What peak_mb measures, for metrics.json."""
        return "cuda_allocated" if self.device.type == "cuda" else "process_rss"

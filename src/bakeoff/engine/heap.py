"""Keep freed memory inside the process during training, so each step reuses pages instead of faulting in new ones.

PyTorch on CPU allocates every tensor with malloc. glibc serves large requests (above its mmap threshold,
which never exceeds 32 MB) with a fresh mmap and hands them back to the kernel on free, so a training step
that allocates the same big tensors every time (a bf16 copy of the weights, gradients, activations) pays a
page fault and a zeroed page for every 4 KB of them, every step. Serving them from the heap and never
trimming it makes the next step reuse the same pages, as CUDA's caching allocator does on GPUs. Measured on
this project's 2-core machine (bf16 autocast, channels-last, `python bench/heap_reuse.py`): seed 004's
`simple-cnn` (a 29M-parameter dense layer) 180 -> 105 ms per step at batch 128, `basic-cnn` 15.1 -> 12.3 ms,
`cnn4` 46.2 -> 43.9 ms, `fast-net-s` unchanged on that synthetic step; whole `--recipe fast` commands, with
their evaluation passes, ran faster after this change and no other (Fashion-MNIST 100.3 -> 86.0 s, CIFAR-10
860.7 -> 711.8 s, bench/time_to_accuracy.py).

The cost is memory: freed memory stays resident until `release_free_memory()` (called as each run starts, so
each run's peak is its own), and the heap fragments a little (simple-cnn's process 798 -> 1006 MB resident).
glibc only: elsewhere both functions do nothing. Setting glibc's own MALLOC_MMAP_MAX_ or
MALLOC_TRIM_THRESHOLD_ in the environment leaves the choice to you.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
from functools import lru_cache

# mallopt parameters from glibc's malloc.h
M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4
NEVER_TRIM = 2**31 - 1  # mallopt takes a C int: 2 GB of free heap top before glibc trims on its own
USER_SETTINGS = ("MALLOC_MMAP_MAX_", "MALLOC_TRIM_THRESHOLD_")


@lru_cache(maxsize=None)
def _libc():
    """glibc's malloc controls, or None on other C libraries (musl, macOS)."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        libc.mallopt.argtypes, libc.malloc_trim.argtypes = [ctypes.c_int, ctypes.c_int], [ctypes.c_size_t]
        return libc
    except (OSError, AttributeError, TypeError):
        return None


@lru_cache(maxsize=None)
def keep_freed_memory() -> bool:
    """Serve every allocation from the heap and keep freed memory for reuse. True when it took effect."""
    libc = _libc()
    if libc is None or any(k in os.environ for k in USER_SETTINGS):
        return False
    return bool(libc.mallopt(M_MMAP_MAX, 0)) and bool(libc.mallopt(M_TRIM_THRESHOLD, NEVER_TRIM))


def release_free_memory() -> None:
    """Give the heap's free pages back to the kernel (between runs: the next run's resident memory is its own)."""
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)

"""Process-wide settings for a training process: one explicit call, made by the entry points that train.

Importing bakeoff changes nothing in the process; `configure_process()` is called first thing by the
command line (`cli.main`), by each torchrun rank and Ray task, and by the benchmarks. A notebook or a
program that trains through the library can call it too, before it first imports torch.
"""
from __future__ import annotations

import os


def configure_process() -> dict:
    """Apply bakeoff's process settings; returns what took effect (for the record).

    - OMP_WAIT_POLICY=PASSIVE (unless set): idle OpenMP threads sleep instead of spinning. On a 2-core
      machine shared with another busy process, spinning threads made an MLP training step 18x slower
      (67 ms against 3.7 ms, measured on the development machine). OpenMP reads it once, when torch
      loads, so this must run before torch is first imported to take effect.
    - glibc keeps freed memory in the heap (engine/heap.py): training steps reuse pages instead of
      faulting in new ones.
    """
    from .engine.heap import keep_freed_memory

    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    return {"omp_wait_policy": os.environ["OMP_WAIT_POLICY"], "heap_kept": keep_freed_memory()}

"""Process-wide settings for a training process: one explicit call, made by the entry points that train.

Importing bakeoff changes nothing in the process; `configure_process()` is called first thing by the
command line (`cli.main`), by each torchrun rank and Ray task, and by the benchmarks. A notebook or a
program that trains through the library can call it too, before it first imports torch.
"""
from __future__ import annotations

import os

from .heap import keep_freed_memory


def configure_process(shares_cores: bool = False) -> dict:
    """Apply bakeoff's process settings; returns what took effect (for the record).

    - How idle OpenMP threads wait. A process that has the cores to itself (training) leaves OpenMP's default:
      between two operations its threads spin a while (libgomp: 300,000 iterations) before they sleep, and
      a training step of many small operations no longer pays a wake-up at each one. On a quiet 2-core
      machine that made steps 1.1-1.8x faster than sleeping at once (`python bench/wait_policy.py`: mlp
      1.76x, cnn4 1.22x, fast-net-s 1.24x, basic-cnn 1.19x). A process whose cores also do other work of its
      own (`bakeoff serve`: its HTTP threads) passes shares_cores and gets OMP_WAIT_POLICY=PASSIVE: its
      threads sleep at once and leave the cores to the rest. Either way a wait setting already in the
      environment (OMP_WAIT_POLICY, GOMP_SPINCOUNT) is kept; on a machine shared with another busy program,
      OMP_WAIT_POLICY=PASSIVE is the better choice for small models (docs/speed.md). OpenMP reads these once,
      when torch loads, so this must run before torch is first imported to take effect.
    - glibc keeps freed memory in the heap (engine/heap.py): training steps reuse pages instead of
      faulting in new ones.
    """
    if shares_cores and "GOMP_SPINCOUNT" not in os.environ:
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    return {"omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "default"), "heap_kept": keep_freed_memory()}

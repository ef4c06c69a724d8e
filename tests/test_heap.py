"""engine/heap.py: training steps reuse freed pages, and the next run's memory is its own again.

Each check runs in a fresh process: malloc settings are process-wide and cannot be undone.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from bakeoff.engine.heap import _libc

pytestmark = pytest.mark.skipif(_libc() is None, reason="needs glibc's malloc controls")

# A 4096x4096 fp32 layer: its 64 MB gradient is above the largest mmap threshold glibc allows (32 MB), so by
# default every step maps it fresh and faults in every page.
FAULTS_PER_10_STEPS = """
    import resource, sys, torch
    from bakeoff.engine.heap import keep_freed_memory
    if sys.argv[1] == "keep":
        assert keep_freed_memory()
    torch.manual_seed(0)
    layer, x = torch.nn.Linear(4096, 4096), torch.randn(64, 4096)
    def step():
        layer.weight.grad = None
        layer(x).square().mean().backward()
    for _ in range(3):
        step()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(10):
        step()
    print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def run_script(script: str, *args: str, env: dict | None = None) -> str:
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(script), *args], capture_output=True, text=True,
                       timeout=120, env={**os.environ, **(env or {})})
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def test_kept_heap_makes_steps_reuse_pages():
    default = int(run_script(FAULTS_PER_10_STEPS, "default"))
    kept = int(run_script(FAULTS_PER_10_STEPS, "keep"))
    assert default > 10 * 16384  # a fresh 64 MB gradient per step: 16,384 pages of 4 KB each time
    assert kept < default / 4


def test_release_gives_kept_memory_back():
    script = """
        import torch
        from bakeoff.engine.heap import keep_freed_memory, release_free_memory
        from bakeoff.engine.memory import rss_bytes
        assert keep_freed_memory()
        base = rss_bytes()
        x = torch.ones(64 * 2**20 // 4)  # 64 MB, touched
        del x
        kept = rss_bytes() - base
        release_free_memory()
        print(kept >> 20, (rss_bytes() - base) >> 20)
    """
    kept_mb, after_mb = map(int, run_script(script).split())
    assert kept_mb >= 60  # freed, but still resident for the next step to reuse
    assert after_mb < 8


def test_glibc_settings_in_the_environment_are_left_alone():
    script = "from bakeoff.engine.heap import keep_freed_memory; print(keep_freed_memory())"
    assert run_script(script, env={"MALLOC_MMAP_MAX_": "65536"}) == "False"
    assert run_script(script) == "True"

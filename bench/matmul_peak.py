"""What this machine's matrix products reach, so a training throughput can be read as a fraction of it.

`bench/peak.py` measures and saves the numbers; other benches call `fraction_of_peak` with them. Used by the
benches alone, so it lives beside them.
A square n x n product costs 2 n^3 FLOPs (a multiply-add counts as 2, as torch.utils.flop_counter does).
"""
from __future__ import annotations

import statistics
import time

import torch


def matmul_gflops(n: int, dtype: torch.dtype, repeats: int = 5, warmup: int = 2) -> float:
    """Median GFLOP/s of an (n, n) @ (n, n) product in `dtype` on the CPU, with the current torch threads."""
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(n, n, generator=gen).to(dtype)
    b = torch.randn(n, n, generator=gen).to(dtype)
    out = torch.empty(n, n, dtype=dtype)  # preallocated: time the kernel, not the allocator
    for _ in range(warmup):  # first calls pick and cache oneDNN/MKL kernels
        torch.mm(a, b, out=out)
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        torch.mm(a, b, out=out)
        seconds.append(time.perf_counter() - start)
    return 2 * n**3 / statistics.median(seconds) / 1e9


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo ('unknown' where there is none)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def measure_peak(sizes: tuple[int, ...] = (2048, 4096), repeats: int = 5) -> dict:
    """fp32 and bf16 GFLOP/s: the best over `sizes` of each size's median, plus every size's number."""
    per_size = {str(n): {"fp32": matmul_gflops(n, torch.float32, repeats),
                         "bf16": matmul_gflops(n, torch.bfloat16, repeats)} for n in sizes}
    return {"fp32_gflops": max(r["fp32"] for r in per_size.values()),
            "bf16_gflops": max(r["bf16"] for r in per_size.values()),
            "threads": torch.get_num_threads(), "torch": str(torch.__version__), "cpu": cpu_model(),
            "sizes": per_size, "repeats": repeats}


def fraction_of_peak(achieved_gflops: float, precision: str, peak: dict) -> float:
    """Achieved GFLOP/s over the peak of the same precision ('fp32' or 'bf16'), from `measure_peak`'s dict."""
    return achieved_gflops / peak[f"{precision}_gflops"]

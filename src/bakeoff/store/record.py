"""What a comparison was run with, beyond library versions: the command, the CPU, its load when it started.

Times mean little without the machine they were measured on (hosts differ in CPU generation and load), so
every grid.json keeps this record and the report shows it.
"""
from __future__ import annotations

import os
import platform
import shlex
import sys
import time
from pathlib import Path

_command: list[str] | None = None  # the arguments `bakeoff` was given, set by cli.main


def set_command(args: list[str]) -> None:
    """Remember the command line `bakeoff` runs (cli.main may be called in-process, so sys.argv is not it)."""
    global _command
    _command = ["bakeoff", *args]


def comparison_record() -> dict:
    """The exact command line, the CPU model and counts, the load average at start, the start time (UTC)."""
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    command = _command or [Path(sys.argv[0]).name, *sys.argv[1:]]
    return {"command": shlex.join(command), "cpu": cpu_model(),
            "cpu_count": os.cpu_count(), "usable_cpus": len(os.sched_getaffinity(0))
            if hasattr(os, "sched_getaffinity") else os.cpu_count(),
            "load_average_1_5_15_min": [round(x, 2) for x in load] if load else None,
            "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def cpu_model() -> str:
    """'AMD EPYC 9R14 96-Core Processor' from /proc/cpuinfo on Linux, else what platform knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()

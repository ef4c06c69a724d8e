"""Where the runs of a grid execute: in this process, or as Ray tasks on a cluster.

Both yield (config, metrics) as runs finish, and both leave the same run folders behind:
Ray workers train in a scratch folder and send every file back as bytes, so the nodes of a
cluster need no shared file system; the driver writes the run folders (metrics.json last).
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Iterable, Iterator

from ..config import RunConfig
from ..engine import interrupt
from ..engine.process import configure_process
from ..errors import ConfigError, unknown_choice
from ..files import atomic_write_bytes
from ..store.runfolder import METRICS_FILE, state_files
from .runner import execute_run, PreparedData

EXECUTORS = ("local", "ray")


class LocalExecutor:
    """One run after another in this process, using every core."""

    def run(self, runs: Iterable[RunConfig], data: PreparedData, out: Path, quiet: bool) -> Iterator[tuple]:
        for cfg in runs:  # lazily: each run is claimed only when its turn comes
            yield cfg, execute_run(cfg, data, out / cfg.run_id, quiet=quiet)


def _train_remote(cfg_dict: dict, data: PreparedData, threads: int,
                  resume_states: dict[str, bytes]) -> tuple[dict, dict]:
    """A Ray task: train one run in a scratch folder; return its metrics and every file it wrote."""
    import torch

    configure_process()  # a Ray worker is a process of its own
    torch.set_num_threads(threads)  # what the task reserved, so runs do not fight over cores
    cfg = RunConfig.from_dict(cfg_dict)
    with tempfile.TemporaryDirectory(prefix="bakeoff-ray-") as scratch:
        run_dir = Path(scratch) / cfg.run_id
        run_dir.mkdir(parents=True)
        for name, state in resume_states.items():
            (run_dir / name).write_bytes(state)
        metrics = execute_run(cfg, data, run_dir, quiet=True)
        files = {p.name: p.read_bytes() for p in run_dir.iterdir() if p.is_file() and not p.name.startswith(".")}
    return metrics, files


class RayExecutor:
    """Each run of the grid is a Ray task; the prepared dataset goes into the object store once."""

    def __init__(self, address: str | None = None, cpus_per_run: int | None = None, gpus_per_run: float = 0):
        try:
            import ray
        except ImportError:
            raise ConfigError("--executor ray needs Ray: pip install -e '.[ray]' (or pip install 'ray[default]')") from None
        self.ray = ray
        if not ray.is_initialized():
            if address:
                check_reachable(address)  # Ray itself retries an address nobody answers at for minutes
                ray.init(address=address, log_to_driver=False)
            else:  # a private single-machine instance on loopback
                ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False,
                         _node_ip_address="127.0.0.1")
        self.cpus = cpus_per_run or int(ray.cluster_resources().get("CPU", 1))
        self.gpus = gpus_per_run

    def run(self, runs: Iterable[RunConfig], data: PreparedData, out: Path, quiet: bool) -> Iterator[tuple]:
        ray = self.ray
        task = ray.remote(num_cpus=self.cpus, num_gpus=self.gpus, max_retries=0)(_train_remote)
        data_ref = ray.put(data)  # shared by every task instead of shipped with each
        pending = {}
        for cfg in runs:
            # resume where an earlier attempt stopped
            resume = {p.name: p.read_bytes() for p in state_files(out / cfg.run_id)}
            ref = task.remote(cfg.to_dict(), data_ref, self.cpus, resume)
            pending[ref] = cfg
        try:
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1, timeout=0.5)
                interrupt.check()
                for ref in done:
                    cfg = pending.pop(ref)
                    metrics, files = ray.get(ref)
                    write_run_folder(out / cfg.run_id, files)
                    yield cfg, metrics
        finally:
            for ref in pending:
                ray.cancel(ref, force=True)


def write_run_folder(run_dir: Path, files: dict[str, bytes]) -> None:
    """Write a run's files as a worker produced them, metrics.json last (it marks the run done)."""
    for name in sorted(files, key=lambda n: n == METRICS_FILE):
        atomic_write_bytes(run_dir / name, files[name])
    if METRICS_FILE in files:
        for state in state_files(run_dir):
            if state.name not in files:
                state.unlink(missing_ok=True)


def check_reachable(address: str, timeout: float = 5.0) -> None:
    """Refuse, in one line, a `--ray-address` [ray://]HOST:PORT where nothing accepts a connection."""
    import socket
    from urllib.parse import urlsplit

    if address == "auto":  # Ray finds a cluster started on this machine by itself
        return
    try:
        parts = urlsplit(address if "://" in address else f"ray://{address}")
        host, port = parts.hostname, parts.port
    except ValueError as e:  # a port out of range or not a number
        raise ConfigError(f"--ray-address {address!r}: not HOST:PORT ({e})") from None
    if not host or port is None:
        raise ConfigError(f"--ray-address {address!r}: not HOST:PORT (e.g. ray://head:10001 or head:6379)")
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as e:
        raise ConfigError(f"--ray-address {address}: nothing answers at {host}:{port} "
                          f"({e.strerror or type(e).__name__})") from None


def make_executor(name: str, address: str | None = None, cpus_per_run: int | None = None,
                  gpus_per_run: float = 0):
    if name == "local":
        return LocalExecutor()
    if name == "ray":
        return RayExecutor(address, cpus_per_run, gpus_per_run)

    raise unknown_choice("executor", name, EXECUTORS)

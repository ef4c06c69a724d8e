"""`bakeoff train --distributed`: one model on several processes under torchrun.

    torchrun --nproc-per-node 2 -m bakeoff train --distributed --dataset mnist --model resnet20

Every rank loads the data and trains its share of each global batch (`--batch-size` is the
global batch); rank 0 alone writes the run folder and prints. A distributed run always trains
(no skip, no resume: ranks would have to agree on both).
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import torch.distributed as dist

from ..config import RunConfig
from ..data import load_dataset
from ..engine.distributed import init_from_env, rank_world
from ..files import write_json
from ..store.leaderboard import build_leaderboard, write_leaderboard
from ..store.runfolder import METRICS_FILE
from .runner import execute_run, PreparedData


def train_distributed(cfg: RunConfig, out: Path, quiet: bool) -> dict | None:
    """Train `cfg` data-parallel; returns the metrics on rank 0, None elsewhere."""
    device = init_from_env(cfg.device)
    rank, world = rank_world()
    try:
        cfg = RunConfig.from_dict({**cfg.to_dict(), "device": device.type})
        ds = load_dataset(cfg.dataset, data_dir=cfg.data_dir, img_size=cfg.img_size, quiet=True)
        data = PreparedData.from_dataset(ds)
        if rank == 0:
            metrics = execute_run(cfg, data, out / cfg.run_id, quiet=quiet, resumable=False)
            metrics["world_size"] = world  # recorded with the run: its numbers came from `world` processes
            write_json(out / cfg.run_id / METRICS_FILE, metrics)
            write_leaderboard(build_leaderboard([(cfg.to_dict(), metrics)]), out)
            return metrics
        with tempfile.TemporaryDirectory(prefix=f"bakeoff-rank{rank}-") as scratch:  # other ranks' files are dropped
            execute_run(cfg, data, Path(scratch) / cfg.run_id, quiet=True, resumable=False)
        return None
    finally:
        dist.destroy_process_group()

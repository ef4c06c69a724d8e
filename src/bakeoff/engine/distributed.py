"""Data-parallel training under torchrun: which rank this process is, and its share of a batch.

Every rank draws the same global batch (same seed, same data order) and trains on its own
slice of it; DistributedDataParallel averages the gradients, so one step equals a single-process
step on the whole global batch (up to BatchNorm statistics, which stay per rank).
"""
from __future__ import annotations

import os

import torch
import torch.distributed as dist

from ..errors import ConfigError


def rank_world() -> tuple[int, int]:
    """(rank, world size); (0, 1) outside torchrun."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def init_from_env(device_name: str) -> torch.device:
    """Join the process group torchrun describes (RANK, WORLD_SIZE, MASTER_ADDR...): gloo on CPU, nccl on GPU."""
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        raise ConfigError("--distributed runs under torchrun: torchrun --nproc-per-node 2 -m bakeoff train "
                          "--distributed ...")
    use_cuda = device_name == "cuda" or (device_name == "auto" and torch.cuda.is_available())
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    if use_cuda:
        torch.cuda.set_device(local_rank)
    else:  # share the cores between the processes on this machine instead of oversubscribing them
        per_node = int(os.environ.get("LOCAL_WORLD_SIZE", os.environ["WORLD_SIZE"]))
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // per_node))
    dist.init_process_group("nccl" if use_cuda else "gloo")
    return torch.device("cuda", local_rank) if use_cuda else torch.device("cpu")


def shard(idx: torch.Tensor) -> torch.Tensor:
    """This rank's slice of a global batch of indices."""
    rank, world = rank_world()
    return idx.tensor_split(world)[rank] if world > 1 else idx


def all_sum(*values: torch.Tensor) -> list[torch.Tensor]:
    """Sum scalars over all ranks (epoch loss and accuracy over the whole data, not one shard)."""
    rank, world = rank_world()
    if world == 1:
        return list(values)
    packed = torch.stack([v.double() for v in values])
    dist.all_reduce(packed)
    return list(packed.unbind())

"""The training step the step-level benchmarks time: bakeoff's fast path on CPU (bf16 autocast where the CPU has
it, logits in fp32 for the loss, fused optimizer, gradients set to None), as engine/loop.py runs it."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from bakeoff.engine.device import autocast

CPU = torch.device("cpu")


def bench_optimizer(model: torch.nn.Module, name: str) -> torch.optim.Optimizer:
    """'adam': Adam 1e-3 (the Keras reference's setting); 'sgd': Nesterov SGD 0.1 (the fast recipe's kind)."""
    if name == "adam":
        return torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)
    return torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True, fused=True)


def training_step(model: torch.nn.Module, opt: torch.optim.Optimizer, precision: str):
    """step(x, y): one forward, backward and optimizer step."""
    def step(x: torch.Tensor, y: torch.Tensor) -> None:
        with autocast(CPU, precision):
            logits = model(x)
        loss = F.cross_entropy(logits.float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return step


def random_batch_step(model_name: str, batch: int, optimizer: str):
    """(step, x, y): a fresh `model_name` (seed 0) with its step and one random batch of 28x28 one-channel images,
    channels-last, for the benchmarks that time a step in a process of its own."""
    from bakeoff.engine.device import resolve_precision
    from bakeoff.models import create_model

    torch.manual_seed(0)
    model = create_model(model_name, num_classes=10, in_chans=1, img_size=28).to(memory_format=torch.channels_last)
    step = training_step(model, bench_optimizer(model, optimizer), resolve_precision("auto", CPU))
    x = torch.randn(batch, 1, 28, 28).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (batch,))
    return step, x, y

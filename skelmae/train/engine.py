"""One training epoch, shared by pretraining and fine-tuning (facebookresearch/mae `engine_pretrain`).

Per step: the learning rate of the fractional epoch (`lr_at`), forward under autocast, backward,
gradient clipping, optimizer step. The caller's `loss_fn(model, x, y) -> (loss, logits or None)` is
the only difference between the jobs: the MAE's reconstruction loss, or the classifier's cross entropy.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from dataclasses import dataclass

import torch

from skelmae.config.jobs import OptimConfig
from skelmae.train.schedule import lr_at

LossFn = Callable[[torch.nn.Module, torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor | None]]


def autocast(device: torch.device, precision: str):
    """bf16 autocast on GPU under "auto", always under "bf16", never under "fp32"."""
    on = precision == "bf16" or (precision == "auto" and device.type == "cuda")
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16) if on else nullcontext()


@dataclass
class EpochStats:
    """This worker's sums over one epoch (the loops add them across workers)."""

    loss_sum: float = 0.0  # sum of per-batch mean loss x batch size
    correct: int = 0  # top-1 hits, when loss_fn returns logits
    seen: int = 0  # sequences
    wait_s: float = 0.0  # time spent waiting for the data iterator
    elapsed_s: float = 0.0


def train_one_epoch(
    model: torch.nn.Module,
    batches: Iterable[dict],
    optimizer: torch.optim.Optimizer,
    device: torch.device,
    epoch: int,
    steps_per_epoch: int,
    optim: OptimConfig,
    precision: str,
    loss_fn: LossFn,
) -> EpochStats:
    model.train()
    stats = EpochStats()
    t0 = t_wait = time.perf_counter()
    for step, batch in enumerate(batches):
        stats.wait_s += time.perf_counter() - t_wait
        lr = lr_at(epoch + step / steps_per_epoch, optim)
        for g in optimizer.param_groups:
            g["lr"] = lr
        x, y = batch["x"].to(device), batch["label"].to(device)
        with autocast(device, precision):
            loss, logits = loss_fn(model, x, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if optim.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), optim.grad_clip)
        optimizer.step()
        stats.loss_sum += loss.item() * len(x)
        stats.seen += len(x)
        if logits is not None:
            stats.correct += (logits.argmax(1) == y).sum().item()
        t_wait = time.perf_counter()
    stats.elapsed_s = time.perf_counter() - t0
    return stats

"""One training epoch, shared by pretraining and fine-tuning (facebookresearch/mae `engine_pretrain`).

Per optimizer step: the learning rate of the fractional epoch (`lr_at`), `accum_steps` micro-batches
(forward under autocast, backward of loss / accum_steps; DDP's gradient all-reduce only on the last,
via `no_sync`), gradient clipping, the step. The caller's `loss_fn(model, x, y) -> (loss, logits or None)`
is the only difference between the jobs: the MAE's reconstruction loss, or the classifier's cross entropy.

No per-step host sync: the loss and hits add up on the device; `.item()` runs every `CHECK_EVERY`
steps (the non-finite check) and at the end of the epoch.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from dataclasses import dataclass

import torch

from skelmae.config.jobs import OptimConfig
from skelmae.train.schedule import lr_at

LossFn = Callable[[torch.nn.Module, torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor | None]]

CHECK_EVERY = 20  # optimizer steps between non-finite checks (each one is a host sync)


class NonFiniteLossError(RuntimeError):
    """The training loss became NaN or infinite: the run fails rather than train on garbage."""


def autocast(device: torch.device, precision: str):
    """bf16 autocast on GPU under "auto", always under "bf16", never under "fp32"."""
    on = precision == "bf16" or (precision == "auto" and device.type == "cuda")
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16) if on else nullcontext()


def make_optimizer(groups: list[dict], lr: float, device: torch.device, betas=(0.9, 0.999)) -> torch.optim.AdamW:
    """AdamW; the fused CUDA kernel on GPU (one launch per step instead of one per tensor)."""
    return torch.optim.AdamW(groups, lr=lr, betas=betas, fused=device.type == "cuda")


@dataclass
class EpochStats:
    """This worker's sums over one epoch (the loops add them across workers)."""

    loss_sum: float = 0.0  # sum of per-micro-batch mean loss x micro-batch size
    correct: int = 0  # top-1 hits, when loss_fn returns logits
    seen: int = 0  # sequences trained on
    steps: int = 0  # optimizer steps
    wait_s: float = 0.0  # time spent waiting for the data iterator
    elapsed_s: float = 0.0


def _check_finite(bad_step: torch.Tensor, epoch: int) -> None:
    step = int(bad_step.item())
    if step >= 0:
        raise NonFiniteLossError(f"non-finite training loss at epoch {epoch}, step {step}: stopping the run "
                                 f"(lower optim.base_lr, or check the data)")


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
    """Exactly `steps_per_epoch` optimizer steps of `optim.accum_steps` micro-batches each; micro-batches
    beyond them (the epoch's remainder) are read and dropped, so every worker count steps alike."""
    model.train()
    stats = EpochStats()
    accum = optim.accum_steps
    loss_sum = torch.zeros((), device=device, dtype=torch.float64)
    correct = torch.zeros((), device=device, dtype=torch.long)
    bad_step = torch.full((), -1, device=device, dtype=torch.long)  # first optimizer step with a non-finite loss
    t0 = t_wait = time.perf_counter()
    for micro, batch in enumerate(batches):
        stats.wait_s += time.perf_counter() - t_wait
        step, k = divmod(micro, accum)
        if step >= steps_per_epoch:
            t_wait = time.perf_counter()
            continue  # drain: the data iterator must run to its end
        if k == 0:
            lr = lr_at(epoch + step / steps_per_epoch, optim)
            for g in optimizer.param_groups:
                g["lr"] = lr * g.get("lr_scale", 1.0)
            optimizer.zero_grad(set_to_none=True)
        x, y = batch["x"].to(device, non_blocking=True), batch["label"].to(device, non_blocking=True)
        last_micro = k == accum - 1
        sync = model.no_sync() if (not last_micro and hasattr(model, "no_sync")) else nullcontext()
        with sync:
            with autocast(device, precision):
                loss, logits = loss_fn(model, x, y)
            (loss / accum).backward()
        detached = loss.detach().double()
        bad_step = torch.where((bad_step < 0) & ~torch.isfinite(detached), torch.full_like(bad_step, step), bad_step)
        loss_sum += detached * len(x)
        stats.seen += len(x)
        if logits is not None:
            correct += (logits.detach().argmax(1) == y).sum()
        if last_micro:
            if optim.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), optim.grad_clip)
            optimizer.step()
            stats.steps += 1
            if stats.steps % CHECK_EVERY == 0:
                _check_finite(bad_step, epoch)
        t_wait = time.perf_counter()
    _check_finite(bad_step, epoch)
    stats.loss_sum = float(loss_sum.item())
    stats.correct = int(correct.item())
    stats.elapsed_s = time.perf_counter() - t0
    if not math.isfinite(stats.loss_sum):
        raise NonFiniteLossError(f"non-finite training loss in epoch {epoch}")
    return stats

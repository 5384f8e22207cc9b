"""Learning-rate schedule: linear warm-up, then half-cycle cosine decay to `min_lr`."""

from __future__ import annotations

import math

from skelmae.config.jobs import OptimConfig


def lr_at(epoch: float, cfg: OptimConfig) -> float:
    """Learning rate at a fractional epoch (epoch + step / steps_per_epoch)."""
    if epoch < cfg.warmup_epochs:
        return cfg.lr * epoch / cfg.warmup_epochs
    span = max(cfg.epochs - cfg.warmup_epochs, 1e-8)
    progress = min((epoch - cfg.warmup_epochs) / span, 1.0)
    return cfg.min_lr + (cfg.lr - cfg.min_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))


def param_groups(model, weight_decay: float) -> list[dict]:
    """AdamW groups: no decay on biases, norms, position embeddings and tokens (as MAE does)."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        if p.ndim <= 1 or "pos_embed" in name or "token" in name:
            no_decay.append(p)
        else:
            decay.append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]

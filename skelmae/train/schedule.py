"""Learning-rate schedule (linear warm-up, then half-cycle cosine decay to `min_lr`) and AdamW groups."""

from __future__ import annotations

import math

from skelmae.config.jobs import OptimConfig


def lr_at(epoch: float, cfg: OptimConfig) -> float:
    """Learning rate at a fractional epoch (epoch + step / steps_per_epoch); `cfg.lr` is the scaled peak."""
    if epoch < cfg.warmup_epochs:
        return cfg.lr * epoch / cfg.warmup_epochs
    span = max(cfg.epochs - cfg.warmup_epochs, 1e-8)
    progress = min((epoch - cfg.warmup_epochs) / span, 1.0)
    return cfg.min_lr + (cfg.lr - cfg.min_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))


def _no_decay(name: str, p) -> bool:
    return p.ndim <= 1 or "pos_embed" in name or "token" in name


def _layer_id(name: str, depth: int) -> int:
    """MAE's `get_layer_id_for_vit`: embeddings 0, block i -> i + 1, the rest (final norm, head) depth + 1."""
    if name.startswith("encoder.blocks."):
        return int(name.split(".")[2]) + 1
    if name.startswith("encoder.") and not name.startswith("encoder.norm"):
        return 0
    return depth + 1


def param_groups(model, weight_decay: float, layer_decay: float = 1.0) -> list[dict]:
    """AdamW groups: no decay on biases, norms, position embeddings and tokens (as MAE does); with
    `layer_decay` < 1 each group also gets `lr_scale = layer_decay ** (depth + 1 - layer)` (MAE's
    `param_groups_lrd`): the head learns at the full rate, the embeddings at the smallest."""
    depth = len(getattr(getattr(model, "encoder", None), "blocks", []))
    groups: dict[tuple[int, bool], dict] = {}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        layer = _layer_id(name, depth) if layer_decay < 1.0 else 0
        nd = _no_decay(name, p)
        g = groups.setdefault((layer, nd), {
            "params": [], "weight_decay": 0.0 if nd else weight_decay,
            "lr_scale": layer_decay ** (depth + 1 - layer) if layer_decay < 1.0 else 1.0,
        })
        g["params"].append(p)
    return list(groups.values())

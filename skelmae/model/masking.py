"""Token masking strategies for SkeletonMAE, one function per strategy.

Tokens of one actor sequence are laid out segment-major: token `s * V + v` is joint `v` of temporal
segment `s` (Ts segments of `l` frames, V joints). Every strategy returns `(ids_keep, ids_restore,
mask)` as in facebookresearch/mae:
    ids_keep    [B, K]  long   indices of the visible tokens, in ascending token order
    ids_restore [B, L]  long   `gather(cat([visible, masked]), ids_restore)` restores token order
    mask        [B, L]  float  1 = masked, 0 = visible
with exactly the same number of masked tokens in every row, so visible tokens batch without padding.
All randomness comes from `torch.rand` (optionally with a `generator`), so `torch.manual_seed`
reproduces masks bit for bit.

Masked counts (`masked_count`): round(ratio * n) with halves rounded up, capped at n - 1 so at least
one token (joint, segment) stays visible for the encoder.
"""

from __future__ import annotations

import math

import torch

from skelmae.model.config import ModelConfig

Masking = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


def check_ratio(ratio: float, field: str = "mask_ratio") -> float:
    ratio = float(ratio)
    if not 0.0 <= ratio < 1.0:
        raise ValueError(f"{field}: must be in [0, 1), got {ratio}")
    return ratio


def masked_count(n: int, ratio: float) -> int:
    """How many of `n` items a ratio masks: round half up, at most n - 1."""
    return max(0, min(int(ratio * n + 0.5), n - 1))


def _rand(shape: tuple[int, ...], generator: torch.Generator | None, device: torch.device | str | None):
    if generator is None:
        return torch.rand(shape, device=device)
    # Draw on the generator's device, so a CPU generator reproduces the same mask for CUDA inputs.
    return torch.rand(shape, generator=generator, device=generator.device).to(device)


def _choose(batch: int, n: int, k: int, generator, device) -> torch.Tensor:
    """[batch, n] bool with exactly k True per row, uniformly at random."""
    chosen = torch.zeros(batch, n, dtype=torch.bool, device=device)
    idx = _rand((batch, n), generator, device).argsort(dim=1)[:, :k]
    return chosen.scatter_(1, idx, True)


def ids_from_mask(mask: torch.Tensor, num_masked: int | None = None) -> Masking:
    """Bool/float mask [B, L] (same count per row) -> (ids_keep [B, K], ids_restore [B, L], mask float).

    num_masked: the count per row when the caller knows it (every strategy does), so no value has to
    be read back from the device; otherwise it is counted and checked (two host syncs).
    """
    m = mask.to(torch.int8)
    if num_masked is None:
        counts = m.sum(dim=1)
        num_masked = int(counts[0]) if m.shape[0] else 0
        if m.shape[0] and not bool((counts == num_masked).all()):
            raise ValueError("mask rows must hold the same number of masked tokens")
    # Stable sort puts visible tokens first, each group in token order.
    ids_shuffle = torch.argsort(m, dim=1, stable=True)
    ids_restore = torch.argsort(ids_shuffle, dim=1)
    ids_keep = ids_shuffle[:, : m.shape[1] - num_masked]
    return ids_keep, ids_restore, m.to(torch.float32)


def random_masking(batch: int, num_segments: int, num_joints: int, ratio: float,
                   generator: torch.Generator | None = None, device=None) -> Masking:
    """MAE's per-token random masking: round(ratio * Ts * V) tokens per sequence."""
    ratio = check_ratio(ratio)
    n = num_segments * num_joints
    k = masked_count(n, ratio)
    return ids_from_mask(_choose(batch, n, k, generator, device), k)


def joint_masking(batch: int, num_segments: int, num_joints: int, ratio: float,
                  generator: torch.Generator | None = None, device=None) -> Masking:
    """Spatial masking: round(ratio * V) joints per sequence, masked in every segment."""
    ratio = check_ratio(ratio)
    k = masked_count(num_joints, ratio)
    joints = _choose(batch, num_joints, k, generator, device)  # [B, V]
    return ids_from_mask(joints[:, None, :].expand(batch, num_segments, num_joints).reshape(batch, -1),
                         k * num_segments)


def frame_masking(batch: int, num_segments: int, num_joints: int, ratio: float,
                  generator: torch.Generator | None = None, device=None) -> Masking:
    """Temporal masking: round(ratio * Ts) whole segments (all joints of their frames) per sequence."""
    ratio = check_ratio(ratio)
    k = masked_count(num_segments, ratio)
    segs = _choose(batch, num_segments, k, generator, device)  # [B, Ts]
    return ids_from_mask(segs[:, :, None].expand(batch, num_segments, num_joints).reshape(batch, -1),
                         k * num_joints)


def spatiotemporal_ratio(num_segments: int, num_joints: int, joint_ratio: float, frame_ratio: float) -> float:
    """Exact fraction of tokens `spatiotemporal_masking` masks (union of joint and segment masks)."""
    nj = masked_count(num_joints, joint_ratio)
    nf = masked_count(num_segments, frame_ratio)
    return (nj * num_segments + nf * num_joints - nj * nf) / (num_segments * num_joints)


def spatiotemporal_masking(batch: int, num_segments: int, num_joints: int, joint_ratio: float,
                           frame_ratio: float, generator: torch.Generator | None = None,
                           device=None) -> Masking:
    """The paper's spatial-temporal masking: joints masked across all segments, plus whole segments.

    Masked per sequence: nj * Ts + nf * V - nj * nf tokens (see `spatiotemporal_ratio`).
    """
    check_ratio(joint_ratio, "joint_mask_ratio")
    check_ratio(frame_ratio, "frame_mask_ratio")
    nj, nf = masked_count(num_joints, joint_ratio), masked_count(num_segments, frame_ratio)
    joints = _choose(batch, num_joints, nj, generator, device)
    segs = _choose(batch, num_segments, nf, generator, device)
    mask = joints[:, None, :] | segs[:, :, None]  # [B, Ts, V]
    return ids_from_mask(mask.reshape(batch, -1), nj * num_segments + nf * num_joints - nj * nf)


def scaled_subratios(joint_ratio: float, frame_ratio: float, target: float) -> tuple[float, float]:
    """Scale both spatiotemporal ratios by one factor k so that 1 - (1 - k j)(1 - k f) = target.

    Used when a call overrides `mask_ratio` for the spatiotemporal strategy: the joint/frame balance
    is kept, the total is the override (up to rounding to whole joints and segments).
    """
    j, f, r = float(joint_ratio), float(frame_ratio), check_ratio(target)
    if j + f == 0:
        j = f = 1.0  # no balance to keep: split evenly
    if j * f == 0:
        k = r / (j + f)
    else:
        k = ((j + f) - math.sqrt(max((j + f) ** 2 - 4 * j * f * r, 0.0))) / (2 * j * f)
    return min(k * j, 0.999), min(k * f, 0.999)


def token_motion(patches: torch.Tensor) -> torch.Tensor:
    """Motion magnitude per token as masked-motion predictors (MAMP) measure it.

    patches: [B, Ts, V, P] -> [B, Ts, V]: mean |difference| to the same joint's previous segment;
    the first segment copies the second's.
    """
    motion = torch.zeros(patches.shape[:3], dtype=torch.float32, device=patches.device)
    if patches.shape[1] > 1:
        diff = (patches[:, 1:] - patches[:, :-1]).abs().float().mean(dim=-1)
        motion[:, 1:] = diff
        motion[:, 0] = diff[:, 0]
    return motion


def motion_masking(motion: torch.Tensor, ratio: float, tau: float,
                   generator: torch.Generator | None = None) -> Masking:
    """Motion-aware masking: tokens sampled without replacement, P ~ softmax(motion / (max * tau)).

    motion: [B, Ts, V] (see `token_motion`). Gumbel top-k draws exactly round(ratio * L) tokens per
    sequence, high-motion tokens more often; a motionless sequence (e.g. an empty actor slot) is
    masked uniformly.
    """
    ratio = check_ratio(ratio)
    b = motion.shape[0]
    m = motion.reshape(b, -1).float()
    logits = m / (m.amax(dim=1, keepdim=True) * tau + 1e-10)
    u = _rand(tuple(m.shape), generator, m.device).clamp_min(1e-10)
    keys = logits - torch.log(-torch.log(u))  # + Gumbel noise
    k = masked_count(m.shape[1], ratio)
    chosen = torch.zeros_like(m, dtype=torch.bool).scatter_(1, keys.topk(k, dim=1).indices, True)
    return ids_from_mask(chosen, k)


def expected_mask_ratio(cfg: ModelConfig, mask_ratio: float | None = None) -> float:
    """The exact fraction of an actor's tokens `sample_mask` masks for this config (and override)."""
    ts, v = cfg.num_segments, cfg.num_joints
    if cfg.mask_strategy == "spatiotemporal":
        j, f = _spatiotemporal_ratios(cfg, mask_ratio)
        return spatiotemporal_ratio(ts, v, j, f)
    r = check_ratio(cfg.mask_ratio if mask_ratio is None else mask_ratio)
    if cfg.mask_strategy == "joint":
        return masked_count(v, r) / v
    if cfg.mask_strategy == "frame":
        return masked_count(ts, r) / ts
    return masked_count(ts * v, r) / (ts * v)


def _spatiotemporal_ratios(cfg: ModelConfig, mask_ratio: float | None) -> tuple[float, float]:
    if mask_ratio is None:
        return cfg.joint_mask_ratio, cfg.frame_mask_ratio
    return scaled_subratios(cfg.joint_mask_ratio, cfg.frame_mask_ratio, mask_ratio)


def sample_mask(cfg: ModelConfig, patches: torch.Tensor, mask_ratio: float | None = None,
                generator: torch.Generator | None = None) -> Masking:
    """Mask for a batch of actor sequences with cfg's strategy. patches: [B, Ts, V, P].

    `mask_ratio` overrides cfg.mask_ratio for this call; for `spatiotemporal` (which otherwise uses
    joint_mask_ratio and frame_mask_ratio) it rescales both, see `scaled_subratios`.
    """
    b, ts, v = patches.shape[:3]
    dev = patches.device
    strategy = cfg.mask_strategy
    if strategy == "spatiotemporal":
        j, f = _spatiotemporal_ratios(cfg, mask_ratio)
        return spatiotemporal_masking(b, ts, v, j, f, generator, dev)
    r = cfg.mask_ratio if mask_ratio is None else mask_ratio
    if strategy == "random":
        return random_masking(b, ts, v, r, generator, dev)
    if strategy == "joint":
        return joint_masking(b, ts, v, r, generator, dev)
    if strategy == "frame":
        return frame_masking(b, ts, v, r, generator, dev)
    if strategy == "motion":
        return motion_masking(token_motion(patches), r, cfg.motion_tau, generator)
    raise ValueError(f"mask_strategy: unknown strategy {strategy!r}")

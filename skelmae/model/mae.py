"""SkeletonMAE: a masked autoencoder over joint-segment tokens of 3D skeleton sequences.

Each actor of `x: [N, T, M, V, C]` is its own sequence of Ts * V tokens (Ts = T / l segments of l
frames, V joints); a token is the linear embedding of one joint's l * C coordinates plus separate
joint (spatial) and segment (temporal) position embeddings. The encoder runs over the visible
tokens only, so its cost falls with the mask ratio; a lighter decoder inserts mask tokens, restores
token order and predicts every token's l * C target values; the loss is the MSE on masked tokens.
Layout and method names follow facebookresearch/mae `models_mae.py`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import partial

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.checkpoint import CheckpointPolicy, checkpoint, create_selective_checkpoint_contexts

from skelmae.model.config import ModelConfig
from skelmae.model.masking import expected_mask_ratio, sample_mask


# ---------------------------------------------------------------------------- tokens
def patchify(x: torch.Tensor, segment_len: int) -> torch.Tensor:
    """[N, T, M, V, C] -> [N, M, Ts, V, l * C]; a token's values are its l frames' xyz, frame-major."""
    n, t, m, v, c = x.shape
    ts = t // segment_len
    p = x.reshape(n, ts, segment_len, m, v, c).permute(0, 3, 1, 4, 2, 5)  # [N, M, Ts, V, l, C]
    return p.reshape(n, m, ts, v, segment_len * c)


def unpatchify(p: torch.Tensor, segment_len: int) -> torch.Tensor:
    """[N, M, Ts, V, l * C] -> [N, T, M, V, C] (inverse of `patchify`)."""
    n, m, ts, v, pc = p.shape
    c = pc // segment_len
    x = p.reshape(n, m, ts, v, segment_len, c).permute(0, 2, 4, 1, 3, 5)  # [N, Ts, l, M, V, C]
    return x.reshape(n, ts * segment_len, m, v, c)


def frame_motion(x: torch.Tensor) -> torch.Tensor:
    """Next-frame differences, the motion target: out[:, t] = x[:, t + 1] - x[:, t], last frame 0."""
    out = torch.zeros_like(x)
    out[:, :-1] = x[:, 1:] - x[:, :-1]
    return out


def _sincos_1d(dim: int, n: int) -> torch.Tensor:
    """[n, dim] sin/cos codes of positions 0..n-1 (dim even), as in MAE's pos_embed.py."""
    omega = 1.0 / 10000 ** (torch.arange(dim // 2, dtype=torch.float64) / (dim / 2))
    angles = torch.arange(n, dtype=torch.float64)[:, None] * omega[None]
    return torch.cat([angles.sin(), angles.cos()], dim=1).float()


def _axis_pos_embeds(kind: str, num_segments: int, num_joints: int, dim: int) -> tuple[nn.Parameter, ...]:
    """(spatial [V, dim], temporal [Ts, dim]) position embeddings, added together per token.

    sincos: the joint code fills the first half of the channels and the segment code the second, so
    the sum is MAE's 2D embedding and (joint a, segment b) never collides with (joint b, segment a).
    """
    if kind == "sincos":
        spatial = torch.zeros(num_joints, dim)
        temporal = torch.zeros(num_segments, dim)
        spatial[:, : dim // 2] = _sincos_1d(dim // 2, num_joints)
        temporal[:, dim // 2:] = _sincos_1d(dim // 2, num_segments)
        return nn.Parameter(spatial, requires_grad=False), nn.Parameter(temporal, requires_grad=False)
    spatial = nn.Parameter(torch.zeros(num_joints, dim))
    temporal = nn.Parameter(torch.zeros(num_segments, dim))
    nn.init.trunc_normal_(spatial, std=0.02)
    nn.init.trunc_normal_(temporal, std=0.02)
    return spatial, temporal


def _init_weights(m: nn.Module) -> None:
    if isinstance(m, nn.Linear):
        nn.init.xavier_uniform_(m.weight)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.LayerNorm):
        nn.init.ones_(m.weight)
        nn.init.zeros_(m.bias)


# ---------------------------------------------------------------------------- transformer
class DropPath(nn.Module):
    """Stochastic depth: drop a sample's whole residual branch with probability p (training only)."""

    def __init__(self, p: float = 0.0):
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.p == 0.0 or not self.training:
            return x
        keep = 1.0 - self.p
        mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
        return x * mask / keep


class Attention(nn.Module):
    """Multi-head self-attention: one fused qkv GEMM, then SDPA (flash kernels on CPU and GPU)."""

    def __init__(self, dim: int, num_heads: int):
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: [B, L, D]
        b, n, d = x.shape
        # unbind, not qkv[0..2]: indexing thrice makes backward zero-fill and add three [3, B, H, L, Dh]
        # buffers; unbind's backward is one stack.
        q, k, v = self.qkv(x).view(b, n, 3, self.num_heads, d // self.num_heads).permute(2, 0, 3, 1, 4).unbind(0)
        out = F.scaled_dot_product_attention(q, k, v)  # [B, H, L, Dh]
        return self.proj(out.transpose(1, 2).reshape(b, n, d))


class Block(nn.Module):
    """Pre-norm transformer block."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float, drop_path: float = 0.0):
        super().__init__()
        hidden = int(dim * mlp_ratio)
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, num_heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))
        self.drop_path = DropPath(drop_path)

    def forward_attn(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.drop_path(self.attn(self.norm1(x)))

    def forward_mlp(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.drop_path(self.mlp(self.norm2(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_mlp(self.forward_attn(x))


# The fused attention kernels' outputs (out [B, H, L, Dh] and the log-sum-exp [B, H, L]: one D per token)
# are kept through checkpointing: recomputing them is the costliest part of a block's forward at L=750
# (the CPU flash kernel runs at about half the GEMM rate), while q, k, v (3 D) are rebuilt by one GEMM.
_KEPT_OPS = tuple(getattr(torch.ops.aten, name).default for name in (
    "_scaled_dot_product_flash_attention_for_cpu", "_scaled_dot_product_flash_attention",
    "_scaled_dot_product_efficient_attention", "_scaled_dot_product_cudnn_attention")
    if hasattr(torch.ops.aten, name))


def _keep_attention(ctx, op, *args, **kwargs) -> CheckpointPolicy:
    return CheckpointPolicy.MUST_SAVE if op in _KEPT_OPS else CheckpointPolicy.PREFER_RECOMPUTE


_KEEP_ATTENTION = partial(create_selective_checkpoint_contexts, _keep_attention)


def run_blocks(blocks: nn.ModuleList, x: torch.Tensor, checkpointed: bool) -> torch.Tensor:
    """x [B, L, D] through `blocks`; checkpointed: keep each half-block's input (and the attention
    kernel's output, see `_KEPT_OPS`), recompute the rest in backward.

    Attention and MLP are checkpointed separately, so backward rebuilds at most one MLP's activations
    (about 10 D per token) at a time instead of a whole block's (about 16 D).
    """
    for blk in blocks:
        if checkpointed and x.requires_grad:
            # use_reentrant=False replays DropPath's RNG state and works under autocast and compile.
            x = checkpoint(blk.forward_attn, x, use_reentrant=False, context_fn=_KEEP_ATTENTION)
            x = checkpoint(blk.forward_mlp, x, use_reentrant=False)
        else:
            x = blk(x)
    return x


class SkeletonEncoder(nn.Module):
    """Token embedding + position embeddings + encoder blocks + final norm: the part that transfers.

    Shared by SkeletonMAE and SkeletonClassifier under the attribute name `encoder`, so its
    state_dict keys (`encoder.*`) are the same in pretraining and fine-tuning checkpoints.
    """

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.segment_len = cfg.segment_len
        self.num_segments, self.num_joints = cfg.num_segments, cfg.num_joints
        d = cfg.embed_dim
        self.patch_embed = nn.Linear(cfg.patch_dim, d)
        self.spatial_pos_embed, self.temporal_pos_embed = _axis_pos_embeds(
            cfg.pos_embed, cfg.num_segments, cfg.num_joints, d)
        rates = torch.linspace(0, cfg.drop_path, cfg.depth).tolist()  # stochastic depth ramp
        self.blocks = nn.ModuleList(Block(d, cfg.num_heads, cfg.mlp_ratio, r) for r in rates)
        self.norm = nn.LayerNorm(d)
        self.checkpointed = cfg.activation_checkpointing == "all"
        self.apply(_init_weights)

    def pos_embed(self) -> torch.Tensor:
        """[Ts * V, D]: temporal + spatial embedding of every token, segment-major."""
        pe = self.temporal_pos_embed[:, None, :] + self.spatial_pos_embed[None, :, :]
        return pe.reshape(-1, pe.shape[-1])

    def embed(self, patches: torch.Tensor) -> torch.Tensor:
        """patches [B, Ts, V, P] -> tokens [B, Ts * V, D] with position embeddings."""
        return self.patch_embed(patches).flatten(1, 2) + self.pos_embed()

    def embed_visible(self, patches: torch.Tensor, ids_keep: torch.Tensor) -> torch.Tensor:
        """patches [B, L, P], ids_keep [B, K] -> visible tokens [B, K, D]; masked tokens are never embedded."""
        visible = torch.gather(patches, 1, ids_keep[..., None].expand(-1, -1, patches.shape[-1]))  # [B, K, P]
        return self.patch_embed(visible) + self.pos_embed()[ids_keep]

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens [B, K, D] (any subset, positions already added) -> [B, K, D]."""
        return self.norm(run_blocks(self.blocks, tokens, self.checkpointed))

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x [N, T, M, V, C] -> (tokens [N, M, Ts * V, D], pooled [N, D] = mean over tokens and actors)."""
        p = patchify(x, self.segment_len)  # [N, M, Ts, V, P]
        n, m = p.shape[:2]
        tokens = self.forward(self.embed(p.flatten(0, 1)))  # [N*M, L, D]
        tokens = tokens.reshape(n, m, tokens.shape[1], tokens.shape[2])
        return tokens, tokens.mean(dim=(1, 2))


def _check_input(x: torch.Tensor, cfg: ModelConfig) -> None:
    want = (cfg.num_frames, cfg.num_joints, cfg.in_chans)
    if x.ndim != 5 or (x.shape[1], x.shape[3], x.shape[4]) != want:
        raise ValueError(f"x: expected [N, T={cfg.num_frames}, M, V={cfg.num_joints}, C={cfg.in_chans}], "
                         f"got {list(x.shape)}")


# ---------------------------------------------------------------------------- models
class SkeletonMAE(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        cfg.validate()
        self.cfg = cfg
        self.encoder = SkeletonEncoder(cfg)
        dd = cfg.decoder_embed_dim
        self.decoder_embed = nn.Linear(cfg.embed_dim, dd)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, dd))
        self.decoder_spatial_pos_embed, self.decoder_temporal_pos_embed = _axis_pos_embeds(
            cfg.pos_embed, cfg.num_segments, cfg.num_joints, dd)
        self.decoder_blocks = nn.ModuleList(
            Block(dd, cfg.decoder_num_heads, cfg.mlp_ratio) for _ in range(cfg.decoder_depth))
        self.decoder_norm = nn.LayerNorm(dd)
        self.decoder_pred = nn.Linear(dd, cfg.patch_dim)
        self.decoder_checkpointed = cfg.activation_checkpointing in ("decoder", "all")
        for m in (self.decoder_embed, self.decoder_blocks, self.decoder_norm, self.decoder_pred):
            m.apply(_init_weights)
        nn.init.normal_(self.mask_token, std=0.02)
        # Fraction of tokens masked by the last forward (exact: every strategy masks a fixed count).
        self.effective_mask_ratio: float = expected_mask_ratio(cfg)

    # tokens <-> frames
    def patchify(self, x: torch.Tensor) -> torch.Tensor:
        """[N, T, M, V, C] -> [N, M, Ts, V, l * C]."""
        return patchify(x, self.cfg.segment_len)

    def unpatchify(self, p: torch.Tensor) -> torch.Tensor:
        """[N, M, Ts, V, l * C] -> [N, T, M, V, C]."""
        return unpatchify(p, self.cfg.segment_len)

    def target_tokens(self, x: torch.Tensor) -> torch.Tensor:
        """What the decoder predicts, per token: [N, M, Ts, V, l * C] (coords or motion, maybe normalised)."""
        t = self.patchify(x if self.cfg.target == "coords" else frame_motion(x)).float()
        if self.cfg.norm_target:
            mean = t.mean(dim=-1, keepdim=True)
            var = t.var(dim=-1, keepdim=True)
            t = (t - mean) / (var + 1e-6) ** 0.5
        return t

    # MAE
    def forward_encoder(self, x: torch.Tensor, mask_ratio: float | None = None,
                        generator: torch.Generator | None = None):
        """x [N, T, M, V, C] -> (latent [N*M, K, D] of visible tokens, mask [N*M, L], ids_restore)."""
        _check_input(x, self.cfg)
        p = self.patchify(x).flatten(0, 1)  # [B, Ts, V, P], B = N*M
        ids_keep, ids_restore, mask = sample_mask(self.cfg, p, mask_ratio, generator)
        visible = self.encoder.embed_visible(p.flatten(1, 2), ids_keep)  # [B, K, D]
        self.effective_mask_ratio = 1.0 - ids_keep.shape[1] / ids_restore.shape[1]
        return self.encoder(visible), mask, ids_restore

    def decoder_pos_embed(self) -> torch.Tensor:
        pe = self.decoder_temporal_pos_embed[:, None, :] + self.decoder_spatial_pos_embed[None, :, :]
        return pe.reshape(-1, pe.shape[-1])  # [L, Dd]

    def forward_decoder(self, latent: torch.Tensor, ids_restore: torch.Tensor) -> torch.Tensor:
        """latent [B, K, D], ids_restore [B, L] -> pred [B, L, l * C] for every token."""
        h = self.decoder_embed(latent)  # [B, K, Dd]
        b, k, dd = h.shape
        ids_keep = ids_restore.argsort(dim=1)[:, :k]  # [B, K]: the visible tokens' positions
        pos = self.decoder_pos_embed()  # [L, Dd]
        # One [B, L, Dd] tensor: mask token + position everywhere, visible tokens scattered in place
        # (MAE's cat + gather + add would materialise it three times).
        h = (self.mask_token[0].to(h.dtype) + pos).expand(b, -1, -1).scatter(
            1, ids_keep[..., None].expand(-1, -1, dd), h + pos[ids_keep])
        h = run_blocks(self.decoder_blocks, h, self.decoder_checkpointed)
        return self.decoder_pred(self.decoder_norm(h))

    def forward_loss(self, x: torch.Tensor, pred: torch.Tensor, mask: torch.Tensor,
                     num_masked: int | None = None) -> torch.Tensor:
        """Mean over masked tokens of the per-token MSE, computed on the masked tokens only.

        pred: [N, M, Ts, V, P] or [N*M, L, P]; mask alike (1 = masked, the same count in every row).
        num_masked: that count if the caller knows it (forward does), else read from mask (a host sync).
        """
        target = self.target_tokens(x).flatten(0, 1).flatten(1, 2)  # [B, L, P]
        pred = pred.reshape(target.shape)
        mask = mask.reshape(target.shape[:2])
        if num_masked is None:
            num_masked = int(mask[0].sum()) if mask.shape[0] else 0
        if num_masked == 0:
            return pred.sum() * 0.0
        ids_masked = mask.argsort(dim=1, descending=True, stable=True)[:, :num_masked, None]  # [B, Lm, 1]
        ids_masked = ids_masked.expand(-1, -1, target.shape[-1])
        err = pred.gather(1, ids_masked).float() - target.gather(1, ids_masked)  # [B, Lm, P]
        return err.square().mean()

    def forward(self, x: torch.Tensor, mask_ratio: float | None = None,
                generator: torch.Generator | None = None):
        """x [N, T, M, V, C] -> (loss, pred [N, M, Ts, V, l*C] in target space, mask [N, M, Ts, V] 1=masked).

        `mask_ratio` overrides cfg.mask_ratio for this call (spatiotemporal: see masking.sample_mask).
        """
        latent, mask, ids_restore = self.forward_encoder(x, mask_ratio, generator)
        pred = self.forward_decoder(latent, ids_restore)  # [B, L, P]
        loss = self.forward_loss(x, pred, mask, num_masked=ids_restore.shape[1] - latent.shape[1])
        n, m = x.shape[0], x.shape[2]
        shape = (n, m, self.cfg.num_segments, self.cfg.num_joints)
        return loss, pred.reshape(*shape, pred.shape[-1]), mask.reshape(shape)

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor, pred: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Visible tokens from x, masked ones from pred, as [N, T, M, V, C] in the target's units.

        target coords: joint coordinates; target motion: next-frame differences. Normalised predictions
        are mapped back with each token's true mean and std (as MAE's visualisation does).
        """
        raw = self.patchify(x if self.cfg.target == "coords" else frame_motion(x)).float()
        pred = pred.float().reshape(raw.shape)
        if self.cfg.norm_target:
            pred = pred * (raw.var(dim=-1, keepdim=True) + 1e-6) ** 0.5 + raw.mean(dim=-1, keepdim=True)
        m = mask.reshape(raw.shape[:-1])[..., None].bool()
        return self.unpatchify(torch.where(m, pred, raw))

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """No masking: (tokens [N, M, Ts*V, D], pooled [N, D] = mean over tokens and actors)."""
        _check_input(x, self.cfg)
        return self.encoder.encode(x)


class SkeletonClassifier(nn.Module):
    """The MAE's encoder over all tokens, mean-pooled over tokens and actors, then LayerNorm (`fc_norm`),
    dropout and a linear head - facebookresearch/mae `models_vit` with global_pool.

    The pooled mean of normalised tokens carries a per-channel offset shared by every sample (about twice
    the between-sample spread for the embedded default's pretrained encoder); `fc_norm` puts the head's
    input on a fixed scale, as the frozen linear probe's standardisation does (there, 110 fine-tuning
    steps reached val 0.68 with it, 0.51 without). fc_norm=False builds the head of checkpoints written
    before it existed (see `has_fc_norm`).
    """

    def __init__(self, cfg: ModelConfig, num_classes: int, dropout: float = 0.0, fc_norm: bool = True):
        super().__init__()
        cfg.validate()
        if num_classes < 1:
            raise ValueError(f"num_classes: must be >= 1, got {num_classes}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout: must be in [0, 1), got {dropout}")
        self.cfg = cfg
        self.num_classes = num_classes
        self.encoder = SkeletonEncoder(cfg)
        self.fc_norm = nn.LayerNorm(cfg.embed_dim) if fc_norm else nn.Identity()
        self.head_drop = nn.Dropout(dropout)
        self.head = nn.Linear(cfg.embed_dim, num_classes)
        nn.init.trunc_normal_(self.head.weight, std=0.02)
        nn.init.zeros_(self.head.bias)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """x [N, T, M, V, C] -> pooled [N, D]."""
        _check_input(x, self.cfg)
        return self.encoder.encode(x)[1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x [N, T, M, V, C] -> logits [N, num_classes]."""
        return self.head(self.head_drop(self.fc_norm(self.features(x))))


def has_fc_norm(state: Mapping) -> bool:
    """Whether a SkeletonClassifier state dict has the pooled-feature LayerNorm (checkpoints before it don't)."""
    return any(k.removeprefix("module.").startswith("fc_norm.") for k in state)


# ---------------------------------------------------------------------------- transfer
class EncoderWeightsError(ValueError):
    """Pretrained weights that do not fit the model's encoder (missing key, extra key or shape)."""


def load_encoder_weights(model: SkeletonClassifier | SkeletonMAE,
                         source: str | os.PathLike | Mapping) -> None:
    """Copy the encoder (patch embed, position embeds, blocks, norm) of a checkpoint into `model.encoder`.

    source: a torch checkpoint path or dict, either {"model": state_dict, ...} or a bare state_dict
    of a SkeletonMAE or SkeletonClassifier (DDP's "module." prefix is accepted). Every encoder
    tensor must be present with the model's shape; anything else raises EncoderWeightsError naming
    the parameter (and both shapes).
    """
    where = str(source) if isinstance(source, (str, os.PathLike)) else "the given state dict"
    if isinstance(source, (str, os.PathLike)):
        if not os.path.isfile(source):
            raise FileNotFoundError(f"no checkpoint file {source}")
        from skelmae import checkpoint  # not at top: the checkpoint module reads ModelConfig from here

        source = checkpoint.read(source)  # tensors and plain containers only: a downloaded file runs no code
    if not isinstance(source, Mapping):
        raise EncoderWeightsError(f"{where}: expected a state dict or checkpoint dict, "
                                  f"got {type(source).__name__}")
    state = source["model"] if isinstance(source.get("model"), Mapping) else source
    prefix = "encoder."
    found = {}
    for key, value in state.items():
        key = key[len("module."):] if key.startswith("module.") else key
        if key.startswith(prefix):
            found[key[len(prefix):]] = value
    if not found:
        raise EncoderWeightsError(f"{where}: no encoder weights (no 'encoder.*' keys) - not a SkeletonMAE "
                                  f"or SkeletonClassifier checkpoint")
    own = model.encoder.state_dict()
    for key, tensor in own.items():
        if key not in found:
            raise EncoderWeightsError(f"{where}: missing encoder parameter encoder.{key} "
                                      f"(model shape {list(tensor.shape)})")
        if tuple(found[key].shape) != tuple(tensor.shape):
            raise EncoderWeightsError(f"{where}: shape mismatch for encoder.{key}: checkpoint "
                                      f"{list(found[key].shape)} vs model {list(tensor.shape)}")
    extra = sorted(set(found) - set(own))
    if extra:
        raise EncoderWeightsError(f"{where}: checkpoint has encoder parameter encoder.{extra[0]} that the "
                                  f"model lacks (different depth?); {len(extra)} extra in all")
    model.encoder.load_state_dict({k: found[k] for k in own}, strict=True)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def num_tokens_visible(cfg: ModelConfig, mask_ratio: float | None = None) -> int:
    """Visible tokens per actor sequence the encoder sees at this ratio."""
    return cfg.num_tokens - round(expected_mask_ratio(cfg, mask_ratio) * cfg.num_tokens)


__all__ = [
    "EncoderWeightsError", "SkeletonClassifier", "SkeletonEncoder", "SkeletonMAE", "count_parameters",
    "frame_motion", "has_fc_norm", "load_encoder_weights", "num_tokens_visible", "patchify", "unpatchify",
]

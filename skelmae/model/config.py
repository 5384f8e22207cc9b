"""SkeletonMAE hyper-parameters: a preset name plus explicit overrides, resolved and validated.

`ModelConfig(preset="base", mask_ratio=0.75)` takes every field it is not given from `PRESETS["base"]`
in `__post_init__`, so `dataclasses.asdict(cfg)` holds the resolved values and `ModelConfig(**d)`
rebuilds the same model from a checkpoint. Fields left `None` mean "take the preset's value".
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from data_pipeline.errors import ConfigError

MASK_STRATEGIES = ("random", "joint", "frame", "spatiotemporal", "motion")
POS_EMBEDS = ("sincos", "learned")
TARGETS = ("coords", "motion")

PRESETS: dict[str, dict] = {
    # Trains in seconds on 2 CPU cores: 8 segments x 25 joints = 200 tokens per actor, 50 visible.
    "tiny": dict(
        num_frames=32, segment_len=4, num_joints=25, num_persons=2, in_chans=3,
        embed_dim=64, depth=3, num_heads=4,
        decoder_embed_dim=64, decoder_depth=1, decoder_num_heads=4,
        # Learned joint embeddings: with 32 channels per axis the sincos joint code is too smooth to
        # single out 25 joints, and the reconstruction loss stalls ~5x higher on small data.
        mlp_ratio=4.0, drop_path=0.0, pos_embed="learned",
        mask_strategy="random", mask_ratio=0.75, joint_mask_ratio=0.4, frame_mask_ratio=0.5,
        motion_tau=0.8, norm_target=False, target="coords",
    ),
    # The field's standard transformer MAE for NTU (MAMP: embed 256, depth 8, 8 heads, decoder 256 x 3,
    # T 120, l 4, motion-aware masking at 0.9 with tau 0.8, normalised motion targets).
    "base": dict(
        num_frames=120, segment_len=4, num_joints=25, num_persons=2, in_chans=3,
        embed_dim=256, depth=8, num_heads=8,
        decoder_embed_dim=256, decoder_depth=3, decoder_num_heads=8,
        mlp_ratio=4.0, drop_path=0.0, pos_embed="learned",
        mask_strategy="motion", mask_ratio=0.9, joint_mask_ratio=0.6, frame_mask_ratio=0.75,
        motion_tau=0.8, norm_target=True, target="motion",
    ),
}


@dataclass
class ModelConfig:
    preset: str = "tiny"
    num_frames: int | None = None  # T, frames per input sequence
    segment_len: int | None = None  # l, frames per token; T must be a multiple
    num_joints: int | None = None  # V
    num_persons: int | None = None  # M, actor slots
    in_chans: int | None = None  # C (xyz)
    embed_dim: int | None = None
    depth: int | None = None
    num_heads: int | None = None
    decoder_embed_dim: int | None = None
    decoder_depth: int | None = None
    decoder_num_heads: int | None = None
    mlp_ratio: float | None = None
    drop_path: float | None = None  # stochastic depth rate of the last encoder block (linear ramp)
    pos_embed: str | None = None  # "sincos" | "learned"
    mask_strategy: str | None = None  # "random" | "joint" | "frame" | "spatiotemporal" | "motion"
    # random/motion: fraction of tokens; joint: fraction of joints; frame: fraction of segments.
    mask_ratio: float | None = None
    # spatiotemporal only: joints masked in every segment, and segments masked entirely.
    joint_mask_ratio: float | None = None
    frame_mask_ratio: float | None = None
    motion_tau: float | None = None  # motion masking temperature: lower = masks high motion more often
    norm_target: bool | None = None  # per-token normalised targets (MAE's norm_pix_loss)
    target: str | None = None  # "coords" | "motion" (next-frame differences)

    def __post_init__(self) -> None:
        if self.preset not in PRESETS:
            raise ConfigError("preset", f"unknown preset {self.preset!r}; known: {sorted(PRESETS)}")
        for name, value in PRESETS[self.preset].items():
            if getattr(self, name) is None:
                setattr(self, name, value)

    @property
    def num_segments(self) -> int:
        return self.num_frames // self.segment_len

    @property
    def num_tokens(self) -> int:
        """Tokens per actor: Ts * V."""
        return self.num_segments * self.num_joints

    @property
    def patch_dim(self) -> int:
        return self.segment_len * self.in_chans

    def validate(self) -> None:
        for f in dataclasses.fields(self):
            if getattr(self, f.name) is None:
                raise ConfigError(f.name, "is unset and the preset has no value for it")
        for name in ("num_frames", "segment_len", "num_joints", "num_persons", "in_chans", "embed_dim",
                     "depth", "num_heads", "decoder_embed_dim", "decoder_depth", "decoder_num_heads"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(name, f"must be >= 1, got {getattr(self, name)}")
        if self.num_frames % self.segment_len:
            raise ConfigError("num_frames", f"T={self.num_frames} is not divisible by segment_len "
                                            f"l={self.segment_len}")
        if self.embed_dim % self.num_heads:
            raise ConfigError("num_heads", f"{self.num_heads} heads do not divide embed_dim={self.embed_dim}")
        if self.decoder_embed_dim % self.decoder_num_heads:
            raise ConfigError("decoder_num_heads", f"{self.decoder_num_heads} heads do not divide "
                                                   f"decoder_embed_dim={self.decoder_embed_dim}")
        if self.pos_embed not in POS_EMBEDS:
            raise ConfigError("pos_embed", f"must be one of {list(POS_EMBEDS)}, got {self.pos_embed!r}")
        if self.pos_embed == "sincos":
            # Joint and segment codes each take half the channels, as sin/cos pairs.
            for name in ("embed_dim", "decoder_embed_dim"):
                if getattr(self, name) % 4:
                    raise ConfigError(name, f"must be a multiple of 4 for sincos position embeddings, "
                                            f"got {getattr(self, name)}")
        if self.mask_strategy not in MASK_STRATEGIES:
            raise ConfigError("mask_strategy", f"must be one of {list(MASK_STRATEGIES)}, "
                                               f"got {self.mask_strategy!r}")
        if self.target not in TARGETS:
            raise ConfigError("target", f"must be one of {list(TARGETS)}, got {self.target!r}")
        for name in ("mask_ratio", "joint_mask_ratio", "frame_mask_ratio", "drop_path"):
            v = float(getattr(self, name))
            if not 0.0 <= v < 1.0:
                raise ConfigError(name, f"must be in [0, 1), got {v}")
        if self.mlp_ratio <= 0:
            raise ConfigError("mlp_ratio", f"must be > 0, got {self.mlp_ratio}")
        if self.motion_tau <= 0:
            raise ConfigError("motion_tau", f"must be > 0, got {self.motion_tau}")

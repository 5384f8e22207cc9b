"""SkeletonMAE hyper-parameters: a preset name plus explicit overrides, resolved and validated.

`ModelConfig(preset="base", mask_ratio=0.75)` takes every field it is not given from `PRESETS["base"]`,
so `cfg.model_dump()` holds the resolved values and `ModelConfig(**d)` rebuilds the same model from a
checkpoint. A pydantic model: a bad value raises `pydantic.ValidationError` (a ValueError) at
construction, naming the field; checks that involve two fields start their message with the field's
name (`num_heads: ...`). This module imports no configuration loader, Ray or MLflow.
"""

from __future__ import annotations

import typing
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

MaskStrategy = Literal["random", "joint", "frame", "spatiotemporal", "motion"]
PosEmbed = Literal["sincos", "learned"]
Target = Literal["coords", "motion"]
# Which transformer blocks keep only their input in the forward pass and recompute the rest in backward:
# less activation memory (the decoder over all tokens holds most of it) for one more forward of them.
ActivationCheckpointing = Literal["none", "decoder", "all"]
MASK_STRATEGIES: tuple[str, ...] = typing.get_args(MaskStrategy)
POS_EMBEDS: tuple[str, ...] = typing.get_args(PosEmbed)
TARGETS: tuple[str, ...] = typing.get_args(Target)
ACTIVATION_CHECKPOINTING: tuple[str, ...] = typing.get_args(ActivationCheckpointing)

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
        motion_tau=0.8, norm_target=False, target="coords", activation_checkpointing="none",
    ),
    # The field's standard transformer MAE for NTU (MAMP: embed 256, depth 8, 8 heads, decoder 256 x 3,
    # T 120, l 4, motion-aware masking at 0.9 with tau 0.8, normalised motion targets).
    "base": dict(
        num_frames=120, segment_len=4, num_joints=25, num_persons=2, in_chans=3,
        embed_dim=256, depth=8, num_heads=8,
        decoder_embed_dim=256, decoder_depth=3, decoder_num_heads=8,
        mlp_ratio=4.0, drop_path=0.0, pos_embed="learned",
        mask_strategy="motion", mask_ratio=0.9, joint_mask_ratio=0.6, frame_mask_ratio=0.75,
        motion_tau=0.8, norm_target=True, target="motion", activation_checkpointing="none",
    ),
}

_Ratio = dict(ge=0.0, lt=1.0)


class ModelConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    preset: str = Field("tiny", description=f"size and masking preset, one of {sorted(PRESETS)}; "
                                            "every field not given takes the preset's value")
    num_frames: int = Field(ge=1, description="T, frames per input sequence")
    segment_len: int = Field(ge=1, description="l, frames per token; T must be a multiple")
    num_joints: int = Field(ge=1, description="V, joints per skeleton")
    num_persons: int = Field(ge=1, description="M, actor slots")
    in_chans: int = Field(ge=1, description="C, coordinates per joint (xyz)")
    embed_dim: int = Field(ge=1, description="encoder width")
    depth: int = Field(ge=1, description="encoder blocks")
    num_heads: int = Field(ge=1, description="encoder attention heads; must divide embed_dim")
    decoder_embed_dim: int = Field(ge=1, description="decoder width")
    decoder_depth: int = Field(ge=1, description="decoder blocks")
    decoder_num_heads: int = Field(ge=1, description="decoder attention heads; must divide decoder_embed_dim")
    mlp_ratio: float = Field(gt=0.0, description="MLP hidden width / block width")
    drop_path: float = Field(**_Ratio, description="stochastic depth rate of the last encoder block (linear ramp)")
    pos_embed: PosEmbed = Field(description="position embeddings of joints and segments")
    mask_strategy: MaskStrategy = Field(description="which tokens pretraining hides")
    mask_ratio: float = Field(**_Ratio, description="random/motion: fraction of tokens; joint: fraction of "
                                                    "joints; frame: fraction of segments")
    joint_mask_ratio: float = Field(**_Ratio, description="spatiotemporal: joints masked in every segment")
    frame_mask_ratio: float = Field(**_Ratio, description="spatiotemporal: segments masked entirely")
    motion_tau: float = Field(gt=0.0, description="motion masking temperature: lower masks high motion more often")
    norm_target: bool = Field(description="per-token normalised targets (MAE's norm_pix_loss)")
    target: Target = Field(description="coords, or motion (next-frame differences)")
    activation_checkpointing: ActivationCheckpointing = Field(
        description="none | decoder | all: recompute these blocks in backward (same loss and gradients, less memory)")

    @model_validator(mode="before")
    @classmethod
    def _resolve_preset(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        preset = data.get("preset", "tiny")
        if preset not in PRESETS:
            raise ValueError(f"preset: unknown preset {preset!r}; known: {sorted(PRESETS)}")
        # None (e.g. `null` in YAML) also means "take the preset's value".
        return {**PRESETS[preset], **{k: v for k, v in data.items() if v is not None}}

    @model_validator(mode="after")
    def _check_shapes(self) -> ModelConfig:
        if self.num_frames % self.segment_len:
            raise ValueError(f"num_frames: T={self.num_frames} is not divisible by segment_len l={self.segment_len}")
        if self.embed_dim % self.num_heads:
            raise ValueError(f"num_heads: {self.num_heads} heads do not divide embed_dim={self.embed_dim}")
        if self.decoder_embed_dim % self.decoder_num_heads:
            raise ValueError(f"decoder_num_heads: {self.decoder_num_heads} heads do not divide "
                             f"decoder_embed_dim={self.decoder_embed_dim}")
        if self.pos_embed == "sincos":
            # Joint and segment codes each take half the channels, as sin/cos pairs.
            for name in ("embed_dim", "decoder_embed_dim"):
                if getattr(self, name) % 4:
                    raise ValueError(f"{name}: must be a multiple of 4 for sincos position embeddings, "
                                     f"got {getattr(self, name)}")
        return self

    def validate(self) -> None:  # type: ignore[override]
        """Check a config that was changed after construction (raises pydantic.ValidationError)."""
        type(self).model_validate(self.model_dump())

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

"""The one per-file preprocessing path: `.skeleton` file -> [T, 2, 25, 3] float32 sample.

Parse (skeleton_format) -> choose actors (denoise) -> translate to the spine, optionally align the
view (normalise). Training data (data_pipeline.pipeline) and prediction on new recordings
(skelmae.serve.predict) both call `process_file`, so they cannot drift apart.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from data_pipeline.errors import ConfigError

from .denoise import DENOISE_MODES, SampleError, Thresholds, denoise
from .normalise import rotate, translate_to_spine, view_rotation
from .skeleton_format import SampleName, SkeletonSequence, parse_sample_name, read_skeleton

__all__ = ["PreprocessConfig", "ProcessedSample", "SampleError", "process_file", "process_sequence"]


@dataclass
class PreprocessConfig:
    """How a file becomes a sample. Defaults are the field's standard preprocessing."""

    denoise: Literal["standard", "clean"] = "standard"
    min_body_frames: int = 11  # bodies seen in this many frames or fewer are noise
    spread_ratio: float = 0.8  # a frame is valid when x-spread <= spread_ratio * y-spread
    noise_spread_threshold: float = 0.69754  # share of invalid frames that marks a body as noise
    align_view: bool = False  # rotate: spine along +y, shoulders along +x

    def validate(self) -> None:
        if self.denoise not in DENOISE_MODES:
            raise ConfigError("denoise", f"must be one of {list(DENOISE_MODES)}, got {self.denoise!r}")
        if isinstance(self.min_body_frames, bool) or not isinstance(self.min_body_frames, (int, np.integer)) \
                or self.min_body_frames < 0:
            raise ConfigError("min_body_frames", f"must be an integer >= 0, got {self.min_body_frames!r}")
        if not np.isfinite(self.spread_ratio) or self.spread_ratio <= 0:
            raise ConfigError("spread_ratio", f"must be a number > 0, got {self.spread_ratio!r}")
        if not 0 < self.noise_spread_threshold <= 1:
            raise ConfigError(
                "noise_spread_threshold", f"must be in (0, 1], got {self.noise_spread_threshold!r}"
            )
        if not isinstance(self.align_view, bool):
            raise ConfigError("align_view", f"must be true or false, got {self.align_view!r}")

    def thresholds(self) -> Thresholds:
        return Thresholds(int(self.min_body_frames), float(self.spread_ratio), float(self.noise_spread_threshold))


@dataclass
class ProcessedSample:
    name: SampleName | None  # None only for a file processed with require_name=False
    data: np.ndarray  # [T, 2, 25, 3] float32; slot 2 all zeros when one actor
    num_bodies: int  # actors kept: 1 or 2
    info: dict = field(default_factory=dict)  # JSON-serialisable record of denoising/normalisation


def process_sequence(seq: SkeletonSequence, name: SampleName | None, cfg: PreprocessConfig) -> ProcessedSample:
    """Denoise and normalise one parsed sequence; raises SampleError when no rule can use it."""
    cfg.validate()
    den = denoise(seq, cfg.denoise, cfg.thresholds())
    data, origin = translate_to_spine(den.data, den.present)
    info = den.info
    info["origin"] = [float(v) for v in origin]
    info["align_view"] = bool(cfg.align_view)
    if cfg.align_view:
        try:
            rotation = view_rotation(data, den.present)
        except ValueError as e:
            raise SampleError(str(e)) from None
        data = rotate(data, rotation, den.present)
        info["rotation"] = rotation.tolist()
    if not np.isfinite(data).all():  # 3e38 parses, but translating by 3e38 more overflows float32
        raise SampleError("a joint value is not finite after normalisation (values too large)")
    return ProcessedSample(name=name, data=data, num_bodies=den.num_actors, info=info)


def process_file(path: str, cfg: PreprocessConfig, filesystem=None, require_name: bool = True) -> ProcessedSample:
    """Read and process one `.skeleton` file (local, or on a pyarrow `filesystem`).

    Raises SkeletonFormatError (bad file name or content) or SampleError (unusable content), the
    message starting with the file name. `require_name=False` accepts names that are not
    `SsssCcccPpppRrrrAaaa` (new recordings to label): the sample's name is then None.
    """
    base = os.path.basename(str(path))
    if require_name:
        name = parse_sample_name(base)
    else:
        try:
            name = parse_sample_name(base)
        except ValueError:
            name = None
    seq = read_skeleton(path, filesystem=filesystem)
    try:
        return process_sequence(seq, name, cfg)
    except SampleError as e:
        raise SampleError(f"{base}: {e}") from None

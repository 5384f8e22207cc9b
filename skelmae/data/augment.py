"""Training-time temporal crop/resize and spatial augmentation of stored variable-length sequences.

Storage keeps every sample at its true length; models need a fixed T. Following the field
(CTR-GCN / MAMP `valid_crop_resize`), training takes a random crop covering a random fraction
`p` in `p_interval` of the valid frames and resizes it to T by linear interpolation; evaluation and
prediction take the centred crop of fraction `eval_crop` deterministically.
"""

from __future__ import annotations

import math

import numpy as np


def valid_crop_resize(
    data: np.ndarray,
    out_frames: int,
    p_interval: tuple[float, float] = (0.5, 1.0),
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Crop a fraction of the valid frames and resize to `out_frames`.

    data: [T, M, V, C] (T = valid frames); returns [out_frames, M, V, C] float32.
    With `rng=None` the crop is centred with fraction p_interval[0] (deterministic).
    """
    t = data.shape[0]
    if t == 0:
        raise ValueError("cannot crop a sequence with 0 frames")
    if rng is None:
        p = p_interval[0]
        length = min(max(int(math.floor(t * p)), 1), t)
        start = (t - length) // 2
    else:
        p = rng.uniform(p_interval[0], p_interval[1]) if p_interval[1] > p_interval[0] else p_interval[0]
        length = min(max(int(math.floor(t * p)), min(t, 16)), t)
        start = int(rng.integers(0, t - length + 1))
    clip = data[start : start + length].astype(np.float32, copy=False)
    if length == out_frames:
        return np.ascontiguousarray(clip)
    # Linear interpolation along time, sample positions aligned like F.interpolate(align_corners=False).
    pos = (np.arange(out_frames, dtype=np.float64) + 0.5) * length / out_frames - 0.5
    pos = np.clip(pos, 0, length - 1)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, length - 1)
    w = (pos - lo).astype(np.float32)[:, None, None, None]
    return (clip[lo] * (1 - w) + clip[hi] * w).astype(np.float32)


def random_rotate_scale(
    data: np.ndarray, rng: np.random.Generator, max_degrees: float = 0.0, max_scale: float = 0.0
) -> np.ndarray:
    """Rotate about the vertical axis by up to `max_degrees` and scale each axis by 1 +- `max_scale`.

    data: [T, M, V, 3]; all-zero (absent) joints stay zero because both maps are linear.
    """
    if max_degrees <= 0 and max_scale <= 0:
        return data
    theta = np.deg2rad(rng.uniform(-max_degrees, max_degrees)) if max_degrees > 0 else 0.0
    c, s = np.cos(theta), np.sin(theta)
    rot = np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]], dtype=np.float32)
    scale = (1.0 + rng.uniform(-max_scale, max_scale, size=3)).astype(np.float32) if max_scale > 0 else 1.0
    return (data @ rot.T * scale).astype(np.float32)

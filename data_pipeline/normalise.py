"""Coordinate normalisation of a denoised sequence: translation to the spine, optional view alignment.

Translation is the standard one (SGN / CTR-GCN `seq_transformation.py::seq_translation`): the origin
is actor 1's joint 2 (middle of the spine, index 1) in the first frame where actor 1 is present; it
is subtracted from both actors in every frame, and frames where an actor is absent stay all zeros.
No scaling, no rotation. Arithmetic stays float32, as theirs, so results are bit-identical.

View alignment (optional, `PreprocessConfig.align_view`) then rotates both actors so that, in actor
1's first present frame, the spine (base of spine, index 0 -> spine-shoulder, index 20) points along
+y and the shoulders (left, index 4 -> right, index 8) lie along +x (z = x cross y, right-handed).
Variable length is kept.
"""

from __future__ import annotations

import numpy as np

SPINE_MID = 1  # joint 2 of the NTU numbering: the translation origin
SPINE_BASE = 0  # joint 1
SPINE_SHOULDER = 20  # joint 21
SHOULDER_LEFT = 4  # joint 5
SHOULDER_RIGHT = 8  # joint 9


def present_mask(data: np.ndarray) -> np.ndarray:
    """[T, M] bool: the actor has a non-zero coordinate in that frame. data: [T, M, V, C]."""
    return np.any(data != 0, axis=(2, 3))


def _first_frame(present: np.ndarray) -> int:
    frames = np.flatnonzero(present[:, 0])
    if len(frames) == 0:
        raise ValueError("actor 1 is absent in every frame")
    return int(frames[0])


def translate_to_spine(data: np.ndarray, present: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Subtract actor 1's first-frame mid-spine joint; returns (data [T, M, V, 3] float32, origin [3]).

    `present` [T, M] marks the frames each actor holds data (default: its non-zero frames); frames
    not present come back as zeros.
    """
    data = np.asarray(data, dtype=np.float32)
    present = present_mask(data) if present is None else present
    origin = data[_first_frame(present), 0, SPINE_MID].copy()  # [3]
    # float32 - float32, as theirs. Over [T, M*V*3] rows with the origin tiled: the same subtractions,
    # but NumPy's inner loop runs along a row instead of over 3 values at a time (~5x faster).
    rows = data.reshape(len(data), -1)
    out = (rows - np.tile(origin, rows.shape[1] // 3)).reshape(data.shape)
    out[~present] = 0.0
    return out, origin


def view_rotation(data: np.ndarray, present: np.ndarray | None = None) -> np.ndarray:
    """[3, 3] rotation R (rows = new x, y, z axes) from actor 1's first present frame.

    Applied as p' = R p, it maps the spine direction to +y and the shoulder line, made orthogonal to
    the spine, to +x. Raises ValueError when the spine or shoulder line is degenerate.
    """
    present = present_mask(data) if present is None else present
    body = np.asarray(data[_first_frame(present), 0], dtype=np.float64)  # [V, 3]
    y = body[SPINE_SHOULDER] - body[SPINE_BASE]
    ny = np.linalg.norm(y)
    if ny < 1e-6:
        raise ValueError("cannot align view: spine base and spine-shoulder coincide")
    y /= ny
    x = body[SHOULDER_RIGHT] - body[SHOULDER_LEFT]
    x -= np.dot(x, y) * y
    nx = np.linalg.norm(x)
    if nx < 1e-6:
        raise ValueError("cannot align view: the shoulder line is parallel to the spine")
    x /= nx
    z = np.cross(x, y)
    return np.stack([x, y, z])


def rotate(data: np.ndarray, rotation: np.ndarray, present: np.ndarray | None = None) -> np.ndarray:
    """Apply p' = R p to every joint; frames not present stay zeros. data: [T, M, V, 3]."""
    present = present_mask(data) if present is None else present
    out = (np.asarray(data, dtype=np.float64) @ rotation.T).astype(np.float32)
    out[~present] = 0.0
    return out

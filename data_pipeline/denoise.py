"""Body selection ("denoising") of one NTU sequence: which tracked bodies become actor 1 and actor 2.

Two modes share the thresholds (`Thresholds`, defaults = the field's values):

`standard` reproduces, rule for rule, the preprocessing almost every NTU paper uses (SGN / CTR-GCN
`get_raw_skes_data.py` + `get_raw_denoised_data.py`; the translation of `seq_transformation.py` is in
`normalise.py`):
 1. xyz only; frames with no body are dropped first, frame indices count non-empty frames only.
 2. Bodies are keyed by their bodyID text; a body's rows are laid out contiguously from its first
    frame, one frame per row (a body that vanishes and comes back is shifted to close the gap).
 3. motion = sum over x, y, z of the variance of all its rows' joints (float32, as they compute it).
 4. One body in the file: the only actor, nothing else applies. Two or more:
    a. bodies with <= min_body_frames rows are removed;
    b. while more than one body remains, in order of first appearance: a frame is valid when
       x-spread <= spread_ratio * y-spread over its 25 joints; a body with an invalid share
       >= noise_spread_threshold is removed, otherwise (if it has invalid frames) its motion becomes
       min(motion, motion over its valid frames);
    c. the rest are ranked by motion, highest first (ties keep order of first appearance).
 5. One body left: the only actor. Otherwise actor 1 = the first ranked body at its interval; each
    further body goes, overwriting, into actor 1's slot if its interval shares at most one frame with
    actor 1's span (the span then grows), else into actor 2's slot under the same test against actor
    2's span, which starts as [0, 0], else it is dropped. Files with two or more bodies then lose the
    frames in which every actor is empty.
 Cases where those scripts crash (every body removed; a body whose rows run past the last frame,
 which needs a bodyID repeated within a frame) raise SampleError.

`clean` keeps the thresholds and fixes the scripts' defects: bodies keep their true frame indices
(a gap stays a gap), a repeated bodyID within a frame keeps its first row, actor 2's span starts
empty, and no body overwrites an actor's frames: it only fills frames where its slot is empty. On a
sequence none of these defects touches, both modes give identical arrays.

Points where the scripts' behaviour rests on details outside the rules above, and what we chose:
 - Spread test precision: the scripts compare float32 spreads with `0.8 * float32`, which NumPy 1.x
   (the only NumPy they run on: they use `np.int`) evaluates in float64. We compute it in float64.
 - "Empty" frames to remove: the scripts test `sum of the frame's coordinates == 0`; we test "every
   actor slot holds no body" (identical unless real coordinates sum to exactly 0.0).
Every decision is recorded in `Denoised.info` (JSON-serialisable).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from .compiled import compiled
from .ntu import MAX_BODIES, SAMPLE_LAYOUT
from .skeleton_format import SkeletonSequence

DenoiseMode = Literal["standard", "clean"]
DENOISE_MODES: tuple[str, ...] = ("standard", "clean")


class SampleError(ValueError):
    """A file no rule can use (all frames empty, every body removed, ...); str(e) is the reason."""


@dataclass(frozen=True)
class Thresholds:
    min_body_frames: int = 11  # bodies seen in this many frames or fewer are noise
    spread_ratio: float = 0.8  # a frame is valid when x-spread <= spread_ratio * y-spread
    noise_spread_threshold: float = 0.69754  # a body with this share of invalid frames or more is noise

    def as_dict(self) -> dict:
        return {
            "min_body_frames": int(self.min_body_frames),
            "spread_ratio": float(self.spread_ratio),
            "noise_spread_threshold": float(self.noise_spread_threshold),
        }


@dataclass
class Denoised:
    data: np.ndarray  # [T, 2, 25, 3] float32 camera coordinates, slot 2 zeros when one actor
    present: np.ndarray  # [T, 2] bool, whether a body was written to that slot in that frame
    num_actors: int  # 1 or 2: slots that received a body
    info: dict  # JSON-serialisable record of every decision


@dataclass
class _Body:
    body_id: str
    frames: np.ndarray  # [n] non-empty-frame index of each row (clean: distinct, true indices)
    joints: np.ndarray  # [n, V, 3] float32, rows in order of appearance
    motion: np.float32
    record: dict  # this body's entry of info["bodies"]

    @property
    def n(self) -> int:
        return len(self.frames)


def _motion(joints: np.ndarray) -> np.float32:
    """Their `np.sum(np.var(joints.reshape(-1, 3), axis=0))` on float32, bit for bit, so ties and ranks agree.

    NumPy sums a [n*V, 3] array over axis 0 sequentially, row by row, in a loop 3 values wide: slow
    (~0.4 ms a file). The same sequential float32 sums in one compiled loop (`_column_variances`) give
    the same bits at a tenth of the cost; the 3 variances are then summed as numpy sums them."""
    points = np.ascontiguousarray(joints.reshape(-1, 3), dtype=np.float32)  # [n*V, 3]
    if len(points) == 0:  # no rows: their expression's own answer (nan)
        return np.sum(np.var(points, axis=0))
    return np.sum(_column_variances(points))


@compiled
def _column_variances(points):  # pragma: no cover - compiled
    """[3] float32 variance of each column of `points` [N, 3] (N > 0) as np.var(axis=0) computes it on
    float32: the mean is the sequential float32 sum over N, then the same sum of squared deviations."""
    n = points.shape[0]
    count = np.float32(n)
    out = np.empty(3, dtype=np.float32)
    for c in range(3):
        total = points[0, c]
        for r in range(1, n):
            total += points[r, c]
        mean = total / count
        d = points[0, c] - mean
        total = d * d
        for r in range(1, n):
            d = points[r, c] - mean
            total += d * d
        out[c] = total / count
    return out


def _rows_of_each_body(body_ids: list[str]) -> dict[str, np.ndarray]:
    """Row indices of each bodyID, in order of first appearance (dicts keep insertion order).

    Without a Python step per row: a file has hundreds of rows but one to three IDs."""
    order = dict.fromkeys(body_ids)
    if len(order) == 1:
        return {body_ids[0]: np.arange(len(body_ids))}
    code = np.fromiter(map({b: k for k, b in enumerate(order)}.__getitem__, body_ids), np.int64, len(body_ids))
    return {b: np.flatnonzero(code == k) for k, b in enumerate(order)}


def _collect_bodies(seq: SkeletonSequence, mode: DenoiseMode) -> tuple[list[_Body], int, dict]:
    """Bodies in order of first appearance, frame indices among non-empty frames; also T and info."""
    if seq.num_frames == 0 or len(seq.frame_index) == 0:
        raise SampleError(f"all {seq.num_frames} frames are empty (no body in any frame)")
    nonempty = np.unique(seq.frame_index)  # [T] file frames with at least one body
    compact = np.searchsorted(nonempty, seq.frame_index)  # [R] index among non-empty frames
    rows_of = _rows_of_each_body(seq.body_ids)
    xyz = seq.xyz
    bodies = []
    duplicates = 0
    for body_id, rows_arr in rows_of.items():
        n_rows = len(rows_arr)
        frames = compact[rows_arr]
        if mode == "clean":
            _, first = np.unique(frames, return_index=True)  # first row of each frame
            if len(first) < len(rows_arr):
                duplicates += len(rows_arr) - len(first)
                rows_arr = rows_arr[np.sort(first)]
                frames = compact[rows_arr]
        else:
            # Their layout: one frame per row, contiguous from the first frame.
            frames = frames[0] + np.arange(len(rows_arr))
        joints = np.ascontiguousarray(xyz[rows_arr], dtype=np.float32)  # [n, V, 3]
        record = {
            "id": body_id,
            "rows": n_rows,
            "first_frame": int(frames[0]),
            "last_frame": int(frames[-1]),
        }
        bodies.append(_Body(body_id, frames, joints, _motion(joints), record))
    info = {
        "frames_in_file": int(seq.num_frames),
        "empty_frames_dropped": int(seq.num_frames - len(nonempty)),
    }
    if mode == "clean":
        info["duplicate_rows_dropped"] = duplicates
    return bodies, len(nonempty), info


def _spread_valid(joints: np.ndarray, ratio: float) -> np.ndarray:
    """[n] bool: frames whose x-spread <= ratio * y-spread (float32 spreads, float64 comparison)."""
    x = joints[:, :, 0]
    y = joints[:, :, 1]
    dx = (x.max(axis=1) - x.min(axis=1)).astype(np.float64)
    dy = (y.max(axis=1) - y.min(axis=1)).astype(np.float64)
    return dx <= ratio * dy


def _select(bodies: list[_Body], th: Thresholds) -> list[_Body]:
    """Rules 4a-4c on two or more bodies: the survivors ranked by motion (may be empty)."""
    alive = []
    for b in bodies:
        if b.n <= th.min_body_frames:
            b.record.update(status="dropped", reason="length")
        else:
            alive.append(b)
    if len(alive) > 1:
        for b in list(alive):
            if len(alive) == 1:
                break
            valid = _spread_valid(b.joints, th.spread_ratio)
            n_noise = b.n - int(valid.sum())
            if n_noise == 0:
                continue
            ratio = n_noise / float(b.n)
            b.record["invalid_spread_share"] = ratio
            if ratio >= th.noise_spread_threshold:
                alive.remove(b)
                b.record.update(status="dropped", reason="spread")
            else:
                b.motion = min(b.motion, _motion(b.joints[valid]))
    for b in bodies:
        b.record["motion"] = float(b.motion)
    return sorted(alive, key=lambda b: b.motion, reverse=True)


def _place(data: np.ndarray, present: np.ndarray, slot: int, b: _Body, overwrite: bool) -> int:
    """Write body b into `slot`; returns how many already-filled frames it overwrote."""
    T = len(data)
    if b.frames[-1] >= T:
        # Their `joints[start:end + 1] = rows` fails to broadcast here (only a bodyID repeated
        # within a frame can make the rows outrun the frames).
        raise SampleError(
            f"body {b.body_id}: its {b.n} rows from frame {int(b.frames[0])} run past the last "
            f"frame {T - 1} (a bodyID repeated within a frame)"
        )
    if overwrite:
        clash = int(present[b.frames, slot].sum())
        data[b.frames, slot] = b.joints
        present[b.frames, slot] = True
        return clash
    free = ~present[b.frames, slot]
    data[b.frames[free], slot] = b.joints[free]
    present[b.frames[free], slot] = True
    b.record["frames_not_written"] = int((~free).sum())
    return 0


def denoise(seq: SkeletonSequence, mode: DenoiseMode = "standard", th: Thresholds | None = None) -> Denoised:
    """Choose actor 1 and actor 2 of `seq` by the rules of `mode`; raises SampleError if none."""
    if mode not in DENOISE_MODES:
        raise ValueError(f"denoise mode must be one of {DENOISE_MODES}, got {mode!r}")
    th = th or Thresholds()
    bodies, T, info = _collect_bodies(seq, mode)
    info = {"mode": mode, "thresholds": th.as_dict(), **info, "num_bodies_in_file": len(bodies)}
    data = np.zeros((T, *SAMPLE_LAYOUT), dtype=np.float32)  # [T, M, V, C]
    present = np.zeros((T, MAX_BODIES), dtype=bool)
    overwrite = mode == "standard"

    if len(bodies) == 1:
        ranked = bodies
        bodies[0].record["motion"] = float(bodies[0].motion)
    else:
        ranked = _select(bodies, th)
        if not ranked:
            raise SampleError(
                f"no body kept: all {len(bodies)} bodies are seen in {th.min_body_frames} frames or fewer"
            )
    first = ranked[0]
    _place(data, present, 0, first, overwrite)
    first.record.update(status="actor1", rank=0)
    span1 = (int(first.frames[0]), int(first.frames[-1]))
    # Actor 2's span: theirs starts as the virtual [0, 0]; clean starts empty (None).
    span2: tuple[int, int] | None = (0, 0) if mode == "standard" else None
    overwritten = 0
    for rank, b in enumerate(ranked[1:], start=1):
        start, end = int(b.frames[0]), int(b.frames[-1])
        b.record["rank"] = rank
        if min(span1[1], end) - max(span1[0], start) <= 0:
            overwritten += _place(data, present, 0, b, overwrite)
            span1 = (min(span1[0], start), max(span1[1], end))
            b.record["status"] = "actor1"
        elif span2 is None or min(span2[1], end) - max(span2[0], start) <= 0:
            overwritten += _place(data, present, 1, b, overwrite)
            span2 = (start, end) if span2 is None else (min(span2[0], start), max(span2[1], end))
            b.record["status"] = "actor2"
        else:
            b.record.update(status="dropped", reason="no slot")

    removed = 0
    if len(bodies) > 1:
        keep = present.any(axis=1)
        removed = int((~keep).sum())
        if removed:
            data, present = data[keep], present[keep]
    num_actors = 2 if present[:, 1].any() else 1
    if mode == "standard":
        info["frames_overwritten"] = overwritten
    info.update(
        frames_removed_no_actor=removed,
        num_frames=int(len(data)),
        num_actors=num_actors,
        bodies=[b.record for b in bodies],
    )
    return Denoised(data=data, present=present, num_actors=num_actors, info=info)

"""A plain line-by-line `.skeleton` reader, written the way the field's common scripts read files.

It exists only as a speed baseline for `skeleton_format.read_skeleton` (benchmarks compare the two).
It follows the ST-GCN / CTR-GCN `read_skeleton_filter` pattern: `readline()` per line, `float()` per
field, one dict per body and per joint, then a per-joint copy of x, y, z into a numpy array (their
`read_xyz`). One deliberate difference: bodyID is kept as text (those scripts `float()` it too, which
merges IDs beyond float precision), so the result is a correct `SkeletonSequence`.
Not for production use: it does no validation beyond what `int()`/`float()` raise.
"""

from __future__ import annotations

import numpy as np

from data_pipeline.skeleton_format import SkeletonSequence

BODY_INFO_KEYS = [
    "bodyID", "clipedEdges", "handLeftConfidence", "handLeftState", "handRightConfidence",
    "handRightState", "isResticted", "leanX", "leanY", "trackingState",
]
JOINT_INFO_KEYS = [
    "x", "y", "z", "depthX", "depthY", "colorX", "colorY",
    "orientationW", "orientationX", "orientationY", "orientationZ", "trackingState",
]


def _read_dicts(path: str) -> dict:
    with open(path) as f:
        seq: dict = {"numFrame": int(f.readline()), "frameInfo": []}
        for _ in range(seq["numFrame"]):
            frame: dict = {"numBody": int(f.readline()), "bodyInfo": []}
            for _ in range(frame["numBody"]):
                values = f.readline().split()
                body: dict = {"bodyID": values[0]}
                body.update({k: float(v) for k, v in zip(BODY_INFO_KEYS[1:], values[1:], strict=False)})
                body["numJoint"] = int(f.readline())
                body["jointInfo"] = []
                for _ in range(body["numJoint"]):
                    fields = f.readline().split()
                    joint = {k: float(v) for k, v in zip(JOINT_INFO_KEYS, fields, strict=False)}
                    body["jointInfo"].append(joint)
                frame["bodyInfo"].append(body)
            seq["frameInfo"].append(frame)
    return seq


def read_skeleton_linewise(path: str) -> SkeletonSequence:
    """Read `path` line by line into a `SkeletonSequence` (xyz only, float32)."""
    seq = _read_dicts(path)
    frame_index: list[int] = []
    body_ids: list[str] = []
    rows: list[np.ndarray] = []
    for f, frame in enumerate(seq["frameInfo"]):
        for body in frame["bodyInfo"]:
            xyz = np.zeros((body["numJoint"], 3), dtype=np.float32)
            for j, v in enumerate(body["jointInfo"]):
                xyz[j, :] = [v["x"], v["y"], v["z"]]
            frame_index.append(f)
            body_ids.append(body["bodyID"])
            rows.append(xyz)
    joints = np.stack(rows) if rows else np.zeros((0, 25, 3), dtype=np.float32)
    return SkeletonSequence(
        num_frames=seq["numFrame"],
        frame_index=np.asarray(frame_index, dtype=np.int32),
        body_ids=body_ids,
        joints=joints,
    )

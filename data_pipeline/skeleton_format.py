"""Reader and writer of the NTU RGB+D `.skeleton` text format, and the sample-name parser.

Layout of a file (whitespace-separated; line endings and trailing spaces do not matter):

    frame_count
    per frame: body_count
        per body: bodyID clippedEdges handLeftConfidence handLeftState handRightConfidence
                  handRightState isRestricted leanX leanY trackingState
                  joint_count                       (25)
                  per joint: x y z depthX depthY colorX colorY
                             orientationW orientationX orientationY orientationZ trackingState

The reader walks the counts body by body (a few hundred steps per file) and converts the joint
numbers in one vectorised call, instead of a Python loop over every float of every line.
"""

from __future__ import annotations

import io
import os
import re
from dataclasses import dataclass

import numpy as np

NUM_JOINTS = 25
BODY_INFO_FIELDS = 10
JOINT_FIELDS = 12

SAMPLE_NAME_RE = re.compile(r"S(\d{3})C(\d{3})P(\d{3})R(\d{3})A(\d{3})")


class SkeletonFormatError(ValueError):
    """A file that is not a valid `.skeleton` file; the message says what is wrong."""


@dataclass(frozen=True)
class SampleName:
    sample_id: str  # e.g. S001C002P003R002A013
    setup: int
    camera: int
    subject: int  # the performer
    replication: int
    action: int  # 1-based, as in the file name

    @property
    def label(self) -> int:
        return self.action - 1


def parse_sample_name(name: str) -> SampleName:
    """Parse `SsssCcccPpppRrrrAaaa` from a file name or path (extension optional)."""
    base = os.path.basename(str(name))
    m = SAMPLE_NAME_RE.fullmatch(base.split(".", 1)[0])
    if m is None:
        raise SkeletonFormatError(f"file name {base!r} is not of the form SsssCcccPpppRrrrAaaa.skeleton")
    setup, camera, subject, replication, action = (int(g) for g in m.groups())
    if min(setup, camera, subject, replication, action) < 1:
        raise SkeletonFormatError(f"file name {base!r} has a zero field")
    return SampleName(m.group(0), setup, camera, subject, replication, action)


@dataclass
class SkeletonSequence:
    """One file's content, as body rows: one row per body per frame in which it appears.

    Row order is file order (frame by frame, bodies in the order listed).
    """

    num_frames: int  # frames in the file, empty ones included
    frame_index: np.ndarray  # [R] int32, frame of each body row
    body_ids: list[str]  # [R] bodyID of each row, kept as text (they exceed float precision)
    joints: np.ndarray  # [R, V, 3] float32 xyz, or [R, V, 12] float64 all joint fields if full
    body_info: np.ndarray | None = None  # [R, 9] float64 body-info fields after bodyID, if full

    @property
    def bodies_per_frame(self) -> np.ndarray:  # [num_frames]
        return np.bincount(self.frame_index, minlength=self.num_frames)

    @property
    def xyz(self) -> np.ndarray:  # [R, V, 3]
        return self.joints[..., :3]


def parse_skeleton_text(text: str, full: bool = False, source: str = "<text>") -> SkeletonSequence:
    """Parse the text of a `.skeleton` file. `full` keeps all 12 joint fields and the body info."""
    tokens = text.split()
    n_tok = len(tokens)
    if n_tok == 0:
        raise SkeletonFormatError(f"{source}: empty file")
    try:
        num_frames = int(tokens[0])
    except ValueError:
        raise SkeletonFormatError(f"{source}: first line is not a frame count: {tokens[0]!r}") from None
    if num_frames < 0:
        raise SkeletonFormatError(f"{source}: negative frame count {num_frames}")

    pos = 1
    frame_index: list[int] = []
    body_ids: list[str] = []
    info_starts: list[int] = []
    joint_starts: list[int] = []
    try:
        for f in range(num_frames):
            n_bodies = int(tokens[pos])
            pos += 1
            if n_bodies < 0:
                raise SkeletonFormatError(f"{source}: frame {f}: negative body count {n_bodies}")
            for _ in range(n_bodies):
                body_ids.append(tokens[pos])
                info_starts.append(pos + 1)
                n_joints = int(tokens[pos + BODY_INFO_FIELDS])
                if n_joints != NUM_JOINTS:
                    raise SkeletonFormatError(
                        f"{source}: frame {f}: body has {n_joints} joints, expected {NUM_JOINTS}"
                    )
                joint_starts.append(pos + BODY_INFO_FIELDS + 1)
                frame_index.append(f)
                pos += BODY_INFO_FIELDS + 1 + NUM_JOINTS * JOINT_FIELDS
    except IndexError:
        raise SkeletonFormatError(f"{source}: truncated (ends inside frame {f} of {num_frames})") from None
    except ValueError as e:
        raise SkeletonFormatError(f"{source}: frame {f}: malformed count ({e})") from None
    if pos > n_tok:
        raise SkeletonFormatError(f"{source}: truncated (ends inside frame {num_frames - 1})")
    if pos < n_tok:
        raise SkeletonFormatError(f"{source}: {n_tok - pos} unexpected trailing values after the last frame")

    tok = np.asarray(tokens)
    starts = np.asarray(joint_starts, dtype=np.int64)
    per_joint = np.arange(NUM_JOINTS, dtype=np.int64)[:, None] * JOINT_FIELDS
    fields = np.arange(JOINT_FIELDS if full else 3, dtype=np.int64)
    idx = starts[:, None, None] + per_joint[None] + fields[None, None]  # [R, V, F]
    try:
        joints = tok[idx].astype(np.float64)
        body_info = tok[np.asarray(info_starts)[:, None] + np.arange(BODY_INFO_FIELDS - 1)].astype(np.float64) \
            if full and info_starts else (np.zeros((0, BODY_INFO_FIELDS - 1)) if full else None)
    except ValueError as e:
        raise SkeletonFormatError(f"{source}: non-numeric joint or body value ({e})") from None
    if not np.all(np.isfinite(joints)):
        raise SkeletonFormatError(f"{source}: non-finite joint coordinates")
    if not full:
        joints = joints.astype(np.float32)
    return SkeletonSequence(
        num_frames=num_frames,
        frame_index=np.asarray(frame_index, dtype=np.int32),
        body_ids=body_ids,
        joints=joints.reshape(len(frame_index), NUM_JOINTS, -1),
        body_info=body_info,
    )


def read_skeleton(path: str, full: bool = False, filesystem=None) -> SkeletonSequence:
    """Read a `.skeleton` file from a local path, or from `filesystem` (a pyarrow filesystem)."""
    try:
        if filesystem is None:
            with open(path, "rb") as fh:
                raw = fh.read()
        else:
            with filesystem.open_input_stream(path) as fh:
                raw = fh.read()
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        raise SkeletonFormatError(f"{path}: not a text file") from None
    return parse_skeleton_text(text, full=full, source=os.path.basename(path))


def _fmt(values) -> str:
    return " ".join(f"{v:.7g}" for v in values)


def format_skeleton(seq: SkeletonSequence) -> str:
    """The `.skeleton` text of a sequence; fields the sequence lacks get Kinect-like defaults."""
    out = io.StringIO()
    out.write(f"{seq.num_frames}\r\n")
    rows_of_frame = [[] for _ in range(seq.num_frames)]
    for r, f in enumerate(seq.frame_index):
        rows_of_frame[int(f)].append(r)
    for rows in rows_of_frame:
        out.write(f"{len(rows)}\r\n")
        for r in rows:
            info = seq.body_info[r] if seq.body_info is not None else (0, 1, 1, 1, 1, 0, 0, 0, 2)
            out.write(f"{seq.body_ids[r]} " + " ".join(f"{v:.7g}" for v in info) + "\r\n")
            out.write(f"{NUM_JOINTS}\r\n")
            j = seq.joints[r]
            if j.shape[-1] == JOINT_FIELDS:
                for v in range(NUM_JOINTS):
                    out.write(_fmt(j[v, :11]) + f" {int(j[v, 11])}\r\n")
            else:
                for v in range(NUM_JOINTS):
                    x, y, z = (float(c) for c in j[v])
                    depth, color = _project(x, y, z)
                    out.write(f"{_fmt((x, y, z))} {_fmt(depth)} {_fmt(color)} 0 0 0 0 2\r\n")
    return out.getvalue()


def _project(x: float, y: float, z: float) -> tuple[tuple[float, float], tuple[float, float]]:
    # Kinect v2 pinhole approximations, so depth/color fields look like the real sensor's.
    zz = max(z, 1e-3)
    depth = (256 + 366 * x / zz, 212 - 366 * y / zz)
    color = (960 + 1066 * x / zz, 540 - 1066 * y / zz)
    return depth, color


def write_skeleton(path: str, seq: SkeletonSequence) -> None:
    with open(path, "w", newline="") as fh:
        fh.write(format_skeleton(seq))

"""Reader and writer of the NTU RGB+D `.skeleton` text format (names: skeleton_names; the fast number
reader: fast_decimal).

Layout of a file (one record per line, values separated by spaces; LF or CRLF, blank lines and
extra spaces do not matter):

    frame_count
    per frame: body_count
        per body: bodyID clippedEdges handLeftConfidence handLeftState handRightConfidence
                  handRightState isRestricted leanX leanY trackingState
                  joint_count                       (25)
                  per joint: x y z depthX depthY colorX colorY
                             orientationW orientationX orientationY orientationZ trackingState

The reader finds every value and line with one compiled pass over the bytes (`fast_decimal.Tokens`),
which also converts every plain decimal bit-identically to float() and flags the rest; it finds the
frames and bodies from the lines' value counts at once (`_Lines.find_bodies`), checks every body's
27 lines at once, and has float() vouch for the few flagged values, instead of a Python loop over
every float of every line: 17-20x faster than a readline-per-line reader (tests/reference_reader.py)
on realistic 700 KB files with every field checked (benchmarks/bench_preprocess.py, CPU time).
Every line's number of values is checked, and errors name the line.

The writer prints numbers with 7 significant digits, like the Kinect SDK files; values with at most
7 significant digits therefore round-trip exactly.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from data_pipeline.fast_decimal import SEP, Tokens
from data_pipeline.ntu import NUM_JOINTS
from data_pipeline.skeleton_names import (  # noqa: F401 - re-exported: the names of the format
    BODY_INFO_FIELDS,
    JOINT_FIELDS,
    SAMPLE_NAME_RE,
    SampleName,
    SkeletonFormatError,
    parse_sample_name,
)


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


_BODY_LINES = 2 + NUM_JOINTS  # a body's lines: body info, joint count, one per joint
_BODY_NTOK = np.array([BODY_INFO_FIELDS, 1] + [JOINT_FIELDS] * NUM_JOINTS)  # [27] values on each
_BODY_OFFSETS = np.arange(_BODY_LINES)


class _Lines:
    """The non-blank lines of one file (index i = i-th non-blank line), for the structure checks."""

    def __init__(self, tokens: Tokens, source: str):
        self.tokens, self.source = tokens, source
        self.content = tokens.line_no  # [C] 0-based line number of each non-blank line
        self.first_tok = tokens.line_tok  # [C] index of the line's first value
        self.ntok = tokens.line_ntok  # [C] values on the line
        self.num_frames = 0  # set once read

    def where(self, i: int) -> str:
        return f"{self.source}: line {int(self.content[i]) + 1}"

    def count(self, i: int, what: str) -> int:
        """The non-negative integer alone on line i."""
        n_values = int(self.ntok[i])
        if n_values != 1:
            raise SkeletonFormatError(f"{self.where(i)}: {what} has {n_values} values, expected 1")
        text = self.tokens.text(int(self.first_tok[i]))
        try:
            value = int(text)
        except ValueError:
            raise SkeletonFormatError(f"{self.where(i)}: {what} is not an integer: {text.decode()!r}") from None
        if value < 0:
            raise SkeletonFormatError(f"{self.where(i)}: {what} is negative: {value}")
        return value

    def find_bodies(self, num_frames: int) -> tuple[np.ndarray, np.ndarray] | None:
        """(info line, frame) of every body [R], found without a Python step per frame; None if not found.

        In a well-formed file the body-count lines are exactly the one-value lines that do not follow
        a body-info line (joint counts do), so they are taken as such, and the walk from line 1 that
        their counts imply is checked to land on each of them in turn and end at the last line: then
        it is the walk `walk_frames` would do. Otherwise (None) something is wrong, and `walk_frames`
        finds and names it. The bodies' own lines are not checked here.
        """
        ntok = self.ntok
        heads = np.flatnonzero((ntok[1:] == 1) & (ntok[:-1] != BODY_INFO_FIELDS)) + 1  # [F]
        if len(heads) != num_frames:
            return None
        tok = self.first_tok[heads]
        if not (self.tokens.kind[tok] == 0).all():  # kind 0: digits only, int() of the text is mant
            return None
        n_bodies = self.tokens.mant[tok]
        n_lines = len(ntok)
        if num_frames and n_bodies.max() > n_lines:  # also keeps int64 from overflowing
            return None
        first_body = np.cumsum(n_bodies) - n_bodies  # [F] bodies before each frame
        walked = 1 + np.arange(num_frames) + _BODY_LINES * first_body  # [F] where the walk finds each count
        if not np.array_equal(heads, walked) or 1 + num_frames + _BODY_LINES * int(n_bodies.sum()) != n_lines:
            return None
        frame_index = np.repeat(np.arange(num_frames), n_bodies)  # [R]
        info = np.repeat(heads + 1 - _BODY_LINES * first_body, n_bodies) + _BODY_LINES * np.arange(len(frame_index))
        return info, frame_index

    def walk_frames(self, num_frames: int) -> tuple[np.ndarray, np.ndarray]:
        """(info line, frame) of every body [R], walking the frame headers one by one; raises for the first
        problem in file order."""
        n_lines = len(self.ntok)
        ntok, kind, mant = self.ntok.tolist(), self.tokens.kind, self.tokens.mant
        i = 1
        f = 0
        info_lines: list[int] = []  # line index of each body's info line
        frame_index: list[int] = []
        try:
            for f in range(num_frames):
                if i >= n_lines:
                    raise IndexError
                tok = int(self.first_tok[i])
                if ntok[i] == 1 and kind[tok] == 0:  # digits only: int() of the text is mant
                    n_bodies = int(mant[tok])
                else:
                    try:
                        n_bodies = self.count(i, f"frame {f}: body count")  # "-0", "1_0": int() decides
                    except SkeletonFormatError:
                        self.check_bodies(info_lines, frame_index)  # a bad body before, if any, comes first
                        raise
                end = i + 1 + n_bodies * _BODY_LINES
                if end > n_lines:  # the file ends inside this frame: only the bodies that start in it
                    # are listed, as a count of 10^12 would take all the memory before failing
                    first = len(info_lines)
                    info_lines.extend(range(i + 1, n_lines, _BODY_LINES))
                    frame_index.extend([f] * (len(info_lines) - first))
                    raise IndexError
                info_lines.extend(range(i + 1, end, _BODY_LINES))
                frame_index.extend([f] * n_bodies)
                i = end
        except IndexError:
            self.check_bodies(info_lines, frame_index)
            raise SkeletonFormatError(
                f"{self.source}: truncated: the file ends inside frame {f} of {num_frames}"
            ) from None
        self.check_bodies(info_lines, frame_index)
        if i < n_lines:
            raise SkeletonFormatError(
                f"{self.where(i)}: {n_lines - i} unexpected trailing line(s) after the last frame"
            )
        return np.asarray(info_lines, dtype=np.int64), np.asarray(frame_index, dtype=np.int64)

    def check_bodies(self, info_lines: Sequence[int], frame_index: Sequence[int]) -> None:
        """Raise for the first line, in file order, of these bodies that is missing or malformed."""
        if len(info_lines) == 0:
            return
        n_lines = len(self.ntok)
        idx = np.asarray(info_lines, dtype=np.int64)[:, None] + _BODY_OFFSETS  # [R, 27]
        # info lines ascend, so idx[-1, -1] is the largest
        safe = idx if idx[-1, -1] < n_lines else np.minimum(idx, n_lines - 1)
        bad = self.ntok[safe] != _BODY_NTOK
        bad |= idx >= n_lines
        # A joint count must read 25: digits only (kind 0) that make 25; other spellings go to int().
        tok = self.first_tok[safe[:, 1]]
        bad[:, 1] |= (self.tokens.kind[tok] != 0) | (self.tokens.mant[tok] != NUM_JOINTS)
        if not bad.any():
            return
        for r, col in zip(*np.nonzero(bad), strict=True):
            i, frame = int(idx[r, col]), int(frame_index[r])
            if i >= n_lines:
                raise SkeletonFormatError(
                    f"{self.source}: truncated: the file ends inside frame {frame} of {self.num_frames}"
                )
            if col == 1:
                n_joints = self.count(i, f"frame {frame}: joint count")
                if n_joints == NUM_JOINTS:
                    continue  # 25 spelled "025" or "+25"
                raise SkeletonFormatError(
                    f"{self.where(i)}: frame {frame}: body has {n_joints} joints, expected {NUM_JOINTS}"
                )
            what = "body-info line" if col == 0 else "joint line"
            raise SkeletonFormatError(
                f"{self.where(i)}: frame {frame}: {what} has {int(self.ntok[i])} values, expected {_BODY_NTOK[col]}"
            )


_SEPARATORS = bytes(range(SEP + 1))  # what follows a value up to the next: all of it, not just str.strip()'s


def _body_ids(tokens: Tokens, id_tok: np.ndarray) -> list[str]:
    """Each body row's bodyID [R] (value indices `id_tok`), as text: up to the next value, separators stripped.

    A file's few hundred rows hold one to three distinct IDs: the slices are taken and de-duplicated
    by C loops (map, dict.fromkeys), and only the distinct ones are stripped and decoded (measured,
    CPU time, 770 KB files: 0.10 ms a file against 0.17 for a decode per row; gathering each ID's
    bytes and comparing them as 64-bit words in numpy was no faster). An info line is always
    followed by its joint count, so the next value exists."""
    raw = tokens.raw
    texts = list(map(raw.__getitem__, map(slice, tokens.starts[id_tok].tolist(), tokens.starts[id_tok + 1].tolist())))
    decoded = {text: text.rstrip(_SEPARATORS).decode() for text in dict.fromkeys(texts)}
    return list(map(decoded.__getitem__, texts))


def parse_skeleton_bytes(raw: bytes, full: bool = False, source: str = "<bytes>") -> SkeletonSequence:
    """Parse the bytes of a `.skeleton` file. `full` keeps all 12 joint fields and the body info.

    Each count, body-info line and joint line is a line of its own (as in every NTU file); line
    endings (LF or CRLF), blank lines and runs of spaces or tabs do not matter. Every line's number of
    values is checked, and every value must be a number finite in float32 (a file with `nanx` in an
    orientation field, or 1e300 anywhere, is an error): the scan vouches for plain decimals, float()
    for the rest (`Tokens.check_suspects`). Without `full` only x, y, z are kept.
    """
    tokens = Tokens(raw)
    if tokens.top > 127:
        raise SkeletonFormatError(f"{source}: not a text file (non-ASCII bytes)")
    if tokens.count == 0:
        raise SkeletonFormatError(f"{source}: empty file")
    lines = _Lines(tokens, source)
    num_frames = lines.num_frames = lines.count(0, "frame count")
    bodies = lines.find_bodies(num_frames)
    if bodies is None:
        info, frame_index = lines.walk_frames(num_frames)
    else:
        info, frame_index = bodies
        lines.check_bodies(info, frame_index)

    id_tok = lines.first_tok[info]  # [R] the bodyID, each info line's first value
    tokens.check_suspects(id_tok, source)
    joint_lines = (info[:, None] + 2 + np.arange(NUM_JOINTS)).reshape(-1)  # [R * V]
    body_ids = _body_ids(tokens, id_tok)
    body_info = None
    if full:
        n_fields = JOINT_FIELDS
        values = tokens.values((lines.first_tok[joint_lines, None] + np.arange(n_fields)).reshape(-1), source)
        info_tok = (id_tok[:, None] + np.arange(1, BODY_INFO_FIELDS)).reshape(-1)  # [R * 9]
        body_info = tokens.values(info_tok, source).reshape(-1, BODY_INFO_FIELDS - 1)
    else:  # x, y, z: a joint line's first three values, converted by the scan
        n_fields = 3
        values = tokens.line_heads(joint_lines, source).astype(np.float32)
    return SkeletonSequence(
        num_frames=num_frames,
        frame_index=frame_index.astype(np.int32),
        body_ids=body_ids,
        joints=values.reshape(len(frame_index), NUM_JOINTS, n_fields),
        body_info=body_info,
    )


def parse_skeleton_text(text: str, full: bool = False, source: str = "<text>") -> SkeletonSequence:
    """Parse the text of a `.skeleton` file. `full` keeps all 12 joint fields and the body info."""
    try:
        raw = text.encode("ascii")
    except UnicodeEncodeError:
        raise SkeletonFormatError(f"{source}: not a text file (non-ASCII characters)") from None
    return parse_skeleton_bytes(raw, full=full, source=source)


def read_skeleton(path: str, full: bool = False, filesystem=None) -> SkeletonSequence:
    """Read a `.skeleton` file from a local path, or from `filesystem` (a pyarrow filesystem)."""
    if filesystem is None:
        with open(path, "rb") as fh:
            raw = fh.read()
    else:
        with filesystem.open_input_stream(path) as fh:
            raw = fh.read()
    return parse_skeleton_bytes(bytes(raw), full=full, source=os.path.basename(path))


_XYZ_ROW = "%.7g %.7g %.7g %.7g %.7g %.7g %.7g 0 0 0 0 2\r\n"
_FULL_ROW = "%.7g %.7g %.7g %.7g %.7g %.7g %.7g %.7g %.7g %.7g %.7g %d\r\n"


def format_skeleton(seq: SkeletonSequence) -> str:
    """The `.skeleton` text of a sequence; fields the sequence lacks get Kinect-like defaults."""
    out = io.StringIO()
    out.write(f"{seq.num_frames}\r\n")
    rows_of_frame = [[] for _ in range(seq.num_frames)]
    for r, f in enumerate(seq.frame_index):
        rows_of_frame[int(f)].append(r)
    full = seq.joints.shape[-1] == JOINT_FIELDS
    if full:
        values = seq.joints.astype(np.float64)
    else:
        # Kinect v2 pinhole approximations for the depth/color fields, all rows at once.
        xyz = seq.joints[..., :3].astype(np.float64)
        z = np.maximum(xyz[..., 2], 1e-3)
        px, py = xyz[..., 0] / z, xyz[..., 1] / z
        values = np.stack([xyz[..., 0], xyz[..., 1], xyz[..., 2], 256 + 366 * px, 212 - 366 * py,
                           960 + 1066 * px, 540 - 1066 * py], axis=-1)
    body_fmt = (_FULL_ROW if full else _XYZ_ROW) * NUM_JOINTS
    for rows in rows_of_frame:
        out.write(f"{len(rows)}\r\n")
        for r in rows:
            info = seq.body_info[r] if seq.body_info is not None else (0, 1, 1, 1, 1, 0, 0, 0, 2)
            out.write(f"{seq.body_ids[r]} " + " ".join(f"{v:.7g}" for v in info) + "\r\n")
            out.write(f"{NUM_JOINTS}\r\n")
            out.write(body_fmt % tuple(values[r].ravel().tolist()))
    return out.getvalue()


def write_skeleton(path: str, seq: SkeletonSequence) -> None:
    with open(path, "w", newline="") as fh:
        fh.write(format_skeleton(seq))

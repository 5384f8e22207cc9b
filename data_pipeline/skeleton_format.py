"""Reader and writer of the NTU RGB+D `.skeleton` text format, and the sample-name parser.

Layout of a file (one record per line, values separated by spaces; LF or CRLF, blank lines and
extra spaces do not matter):

    frame_count
    per frame: body_count
        per body: bodyID clippedEdges handLeftConfidence handLeftState handRightConfidence
                  handRightState isRestricted leanX leanY trackingState
                  joint_count                       (25)
                  per joint: x y z depthX depthY colorX colorY
                             orientationW orientationX orientationY orientationZ trackingState

The reader finds every token and line with a few numpy passes over the bytes, walks the frame
headers (one Python step per frame), checks every body's 27 lines at once and converts the joint
numbers with a vectorised decimal parser that is bit-identical to float() (see `_parse_numbers`),
instead of a Python loop over every float of every line: about 10x faster than a readline-per-line
reader (reference_reader.py) on 100-frame files. Every line's number of values is checked, and errors name the line.

The writer prints numbers with 7 significant digits, like the Kinect SDK files; values with at most
7 significant digits therefore round-trip exactly.
"""

from __future__ import annotations

import io
import os
import re
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import as_strided

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


# Bytes at or below this are field separators (space, tab, CR, LF and the other control characters):
# the ASCII separators of Python's str.split().
_SEP = 32
_TOKEN = re.compile(rb"[^\x00-\x20]+")
_W = 12  # numbers of up to _W - 1 bytes (nearly all NTU values) are parsed in bulk; longer: float()
_CHUNK = 8192  # numbers parsed per bulk step, to keep the [W, N] temporaries cache-sized
_POW10 = 10.0 ** np.arange(23)  # exact doubles 1e0 .. 1e22
_WEIGHT = 10.0 ** np.arange(_W - 1, -1, -1)  # [W] 10^(W-1-j)


def _line_of(raw: bytes, offset: int) -> int:
    return raw.count(b"\n", 0, offset) + 1


def _parse_numbers(raw: bytes, buf: np.ndarray, starts: np.ndarray, source: str) -> np.ndarray:
    """float64 values of the numbers starting at byte offsets `starts` [N], bit-identical to float().

    Plain decimals ([+-]digits[.digits], shorter than _W bytes) are parsed in bulk. The _W bytes from
    each start form a column; weighting digit j by 10^(W-1-j) gives s (the dot's column adds 0), an
    integer below 10^W < 2^53, so exact. With the dot at column p, t = 10^(W-1-p) (the same weighting
    of the dot), the digits before it weigh 10x too much: q = floor(s / 10t) is exactly their value
    over 10t, and s - 9qt = m * t' is the digits' integer m times a power of ten, exact. One correctly
    rounded division of exact operands, (s - 9qt) / t, or s / 10^(W - len) without a dot, is then the
    correctly rounded decimal: float()'s result. Anything else (an exponent, a long number: rare) goes
    to float() itself, which also rejects non-numbers. `buf` is `raw` as uint8 followed by at least _W
    separator bytes.
    """
    if len(starts) > _CHUNK:
        return np.concatenate(
            [_parse_numbers(raw, buf, starts[i:i + _CHUNK], source) for i in range(0, len(starts), _CHUNK)]
        )
    rows = as_strided(buf, (len(buf) - _W + 1, _W), (1, 1))
    c = np.ascontiguousarray(rows[starts].T)  # [W, N] bytes from each start
    in_tok = c > _SEP
    for j in range(1, _W):  # the number ends at its first separator
        in_tok[j] &= in_tok[j - 1]
    length = in_tok.view(np.uint8).sum(axis=0, dtype=np.uint8)  # [N]
    d = c - np.uint8(48)  # digit value where < 10 (other bytes wrap to >= 10)
    digit = d < 10
    digit &= in_tok
    dot = c == 46
    dot &= in_tok
    n_digit = digit.view(np.uint8).sum(axis=0, dtype=np.uint8)
    n_dot = dot.view(np.uint8).sum(axis=0, dtype=np.uint8)
    lead = c[0]
    neg = lead == 45  # '-'
    ok = n_digit + n_dot + (neg | (lead == 43)) == length  # nothing but a sign, digits, a dot
    ok &= (n_dot <= 1) & (n_digit > 0) & (length < _W)
    s = _WEIGHT @ (d * digit).astype(np.float64)  # [N]
    has_dot = n_dot > 0
    t = np.where(has_dot, _WEIGHT @ dot.astype(np.float64), _POW10[_W - np.minimum(length, _W)])
    q = np.floor(s / (10.0 * t))
    q *= has_dot
    value = (s - 9.0 * q * t) / t
    value = np.where(neg, -value, value)
    for i in np.flatnonzero(~ok).tolist():
        start = int(starts[i])
        text = _TOKEN.match(raw, start).group()
        try:
            value[i] = float(text)
        except ValueError:
            raise SkeletonFormatError(
                f"{source}: line {_line_of(raw, start)}: non-numeric value {text.decode('ascii', 'replace')!r}"
            ) from None
    return value


_BODY_LINES = 2 + NUM_JOINTS  # a body's lines: body info, joint count, one per joint
_BODY_NTOK = np.array([BODY_INFO_FIELDS, 1] + [JOINT_FIELDS] * NUM_JOINTS)  # [27] values on each
_BODY_OFFSETS = np.arange(_BODY_LINES)


class _Lines:
    """The non-blank lines of one file (index i = i-th non-blank line), for the structure checks."""

    def __init__(self, raw: bytes, buf: np.ndarray, source: str, ts: np.ndarray, content: np.ndarray,
                 ntok: np.ndarray, first_tok: np.ndarray, starts: list[int], ends: list[int]):
        self.raw, self.buf, self.source, self.ts = raw, buf, source, ts
        self.content = content  # [C] 0-based line number of each non-blank line
        self.ntok = ntok  # [C] values on the line
        self.ntok_list = ntok.tolist()
        self.first_tok = first_tok  # [C] index (into ts) of the line's first token
        self.starts = starts  # [C] byte offset of the line's start (list)
        self.ends = ends  # [C] byte offset of the line's end (list)
        self.num_frames = 0  # set once read

    def where(self, i: int) -> str:
        return f"{self.source}: line {int(self.content[i]) + 1}"

    def count(self, i: int, what: str) -> int:
        """The non-negative integer alone on line i."""
        if self.ntok_list[i] != 1:
            raise SkeletonFormatError(f"{self.where(i)}: {what} has {self.ntok_list[i]} values, expected 1")
        text = self.raw[self.starts[i]:self.ends[i]]  # int() ignores the surrounding separators
        try:
            value = int(text)
        except ValueError:
            raise SkeletonFormatError(f"{self.where(i)}: {what} is not an integer: {text.strip().decode()!r}") from None
        if value < 0:
            raise SkeletonFormatError(f"{self.where(i)}: {what} is negative: {value}")
        return value

    def check_bodies(self, info_lines: list[int], frame_index: list[int]) -> None:
        """Raise for the first line, in file order, of these bodies that is missing or malformed."""
        if not info_lines:
            return
        n_lines = len(self.ntok)
        idx = np.asarray(info_lines, dtype=np.int64)[:, None] + _BODY_OFFSETS  # [R, 27]
        bad = self.ntok[np.minimum(idx, n_lines - 1)] != _BODY_NTOK
        bad |= idx >= n_lines
        # A joint count must read 25: check its text is exactly "25"; other spellings go to int().
        at = self.ts[self.first_tok[np.minimum(idx[:, 1], n_lines - 1)]]
        bad[:, 1] |= (self.buf[at] != 50) | (self.buf[at + 1] != 53) | (self.buf[at + 2] > _SEP)
        if not bad.any():
            return
        for r, col in zip(*np.nonzero(bad), strict=True):
            i, frame = int(idx[r, col]), frame_index[r]
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
                f"{self.where(i)}: frame {frame}: {what} has {self.ntok_list[i]} values, expected {_BODY_NTOK[col]}"
            )


def parse_skeleton_bytes(raw: bytes, full: bool = False, source: str = "<bytes>") -> SkeletonSequence:
    """Parse the bytes of a `.skeleton` file. `full` keeps all 12 joint fields and the body info.

    Each count, body-info line and joint line is a line of its own (as in every NTU file); line
    endings (LF or CRLF), blank lines and runs of spaces or tabs do not matter. Every line's number of
    values is checked; without `full` only x, y, z are converted (the other joint fields are counted,
    not converted), with `full` every value is.
    """
    if not raw.isascii():
        raise SkeletonFormatError(f"{source}: not a text file (non-ASCII bytes)")
    n = len(raw)
    buf = np.full(n + _W + 1, _SEP, dtype=np.uint8)  # [n + W + 1] the text, then separators
    buf[:n] = np.frombuffer(raw, dtype=np.uint8)
    sep = buf <= _SEP
    is_start = ~sep  # first byte of a token
    is_start[1:] &= sep[:-1]
    ts = np.flatnonzero(is_start)  # [n_tok] byte offset of every token
    if len(ts) == 0:
        raise SkeletonFormatError(f"{source}: empty file")
    # Lines: in a regular file every newline sits right before the next line's first token (or
    # after the last token), so a token starts a line iff the byte before it is a newline.
    first = buf[ts - 1] == 10  # [n_tok] (ts[0] - 1 reads the padding at the end: not a newline)
    first[0] = True
    lead = raw.count(b"\n", 0, int(ts[0]))
    if raw.count(b"\n") == lead + int(np.count_nonzero(first)) - 1 + raw.count(b"\n", int(ts[-1])):
        first_tok = np.flatnonzero(first)  # [C] index of each line's first token
        content = lead + np.arange(len(first_tok))  # 0-based line numbers
        line_starts = ts[first_tok]
        line_ends = np.append(line_starts[1:], n)  # int() ignores the separators a line ends with
    else:  # blank lines or indented lines: find the lines the long way
        newlines = np.flatnonzero(buf[:n] == 10)
        line_start = np.empty(len(newlines) + 1, dtype=np.int64)  # [L]
        line_start[0] = 0
        line_start[1:] = newlines + 1
        first_tok = np.searchsorted(ts, line_start)  # [L] index of each line's first token
        content = np.flatnonzero(np.diff(first_tok, append=len(ts)))  # non-blank lines
        first_tok = first_tok[content]
        line_starts = line_start[content]
        line_ends = np.append(newlines, n)[content]
    n_tok = np.diff(first_tok, append=len(ts))  # [C] values per line
    lines = _Lines(raw, buf, source, ts, content, n_tok, first_tok, line_starts.tolist(), line_ends.tolist())
    num_frames = lines.num_frames = lines.count(0, "frame count")

    # One Python step per frame header; the 27 lines of every body are checked at once after.
    n_lines = len(content)
    ntok, starts, ends = lines.ntok_list, lines.starts, lines.ends
    i = 1
    f = 0
    info_lines: list[int] = []  # line index of each body's info line
    frame_index: list[int] = []
    try:
        for f in range(num_frames):
            if i >= n_lines:
                raise IndexError
            try:
                if ntok[i] != 1:
                    raise ValueError
                n_bodies = int(raw[starts[i]:ends[i]])
                if n_bodies < 0:
                    raise ValueError
            except ValueError:
                lines.check_bodies(info_lines, frame_index)  # a bad body before, if any, comes first
                lines.count(i, f"frame {f}: body count")  # raises, saying what is wrong
                raise
            info_lines.extend(range(i + 1, i + 1 + n_bodies * _BODY_LINES, _BODY_LINES))
            frame_index.extend([f] * n_bodies)
            i += 1 + n_bodies * _BODY_LINES
    except IndexError:
        lines.check_bodies(info_lines, frame_index)
        raise SkeletonFormatError(f"{source}: truncated: the file ends inside frame {f} of {num_frames}") from None
    lines.check_bodies(info_lines, frame_index)
    if i < n_lines:
        raise SkeletonFormatError(f"{lines.where(i)}: {n_lines - i} unexpected trailing line(s) after the last frame")

    info = np.asarray(info_lines, dtype=np.int64)  # [R]
    n_fields = JOINT_FIELDS if full else 3
    joint_first = lines.first_tok[info[:, None] + 2 + np.arange(NUM_JOINTS)]  # [R, V]
    tok = (joint_first[..., None] + np.arange(n_fields)).reshape(-1)  # [R * V * F]
    values = _parse_numbers(raw, buf, ts[tok], source)
    finite = np.isfinite(values)
    if not finite.all():
        at = int(ts[tok[np.argmin(finite)]])
        raise SkeletonFormatError(f"{source}: line {_line_of(raw, at)}: non-finite joint value")
    info_first = lines.first_tok[info]  # [R] token index of each bodyID
    body_ids = [raw[a:b].rstrip().decode() for a, b in zip(ts[info_first].tolist(), ts[info_first + 1].tolist(),
                                                               strict=True)]
    body_info = None
    if full:
        info_tok = info_first[:, None] + np.arange(1, BODY_INFO_FIELDS)  # [R, 9]
        body_info = _parse_numbers(raw, buf, ts[info_tok.reshape(-1)], source).reshape(-1, BODY_INFO_FIELDS - 1)
    else:
        values = values.astype(np.float32)
    return SkeletonSequence(
        num_frames=num_frames,
        frame_index=np.asarray(frame_index, dtype=np.int32),
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

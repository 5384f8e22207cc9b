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

The reader marks where every value starts in a bitmap and finds the lines with a few numpy passes
over the bytes (`_Tokens`, `_Lines`), finds the frames and bodies from the lines' value counts at
once (`_Lines.find_bodies`), checks every body's 27 lines at once, vouches for every value being a
plain decimal with a few whole-file passes (`_suspect_values`), and converts the joint numbers
with a vectorised decimal parser that is bit-identical to float() (`_parse_numbers`), instead of a
Python loop over every float of every line: 12-13x faster than a readline-per-line reader
(tests/reference_reader.py) on realistic 700-900 KB files with every field checked
(benchmarks/bench_preprocess.py, CPU time). Every line's
number of values is checked, and errors name the line.

The writer prints numbers with 7 significant digits, like the Kinect SDK files; values with at most
7 significant digits therefore round-trip exactly.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

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


# Bytes at or below this are field separators (space, tab, CR, LF and the other control characters):
# the ASCII separators of Python's str.split().
_SEP = 32
_TOKEN = re.compile(rb"[^\x00-\x20]+")
_LOAD = 16  # bytes loaded from each number's start
_W = 14  # numbers of up to _W - 1 characters, sign included (all NTU values), are parsed in bulk; longer: float()
_CHUNK = 16384  # numbers parsed per bulk step (the xyz of ~200 bodies), to keep the temporaries small
_POW10 = 10.0 ** np.arange(23)  # exact doubles 1e0 .. 1e22
_ROW = np.arange(_W, dtype=np.uint8)[:, None]  # [W, 1] row numbers
_NEAR = 56  # values starting at most this many bytes after another are found from its 64-bit window
_ONE = np.uint64(1)


def _line_of(raw: bytes, offset: int) -> int:
    return raw.count(b"\n", 0, offset) + 1


class _Tokens:
    """Where the values (runs of non-separator bytes) and the lines of one file start.

    A real file has ~40k values; listing their offsets (`offsets`) costs more than all the rest of
    reading xyz. A bitmap of the starts answers what the reader asks instead with a few operations
    per query: how many values start before an offset (`index`), and where the next ones start
    (`following`).
    """

    def __init__(self, raw: bytes):
        n = len(raw)
        self.raw = raw
        # The text, then separators: at least _LOAD of them for number windows, and enough to make a
        # whole number of 64-bit words of bitmap followed by a zero word for the unaligned loads.
        self.buf = np.empty(n + 64 + (-n) % 64, dtype=np.uint8)
        self.buf[:n] = np.frombuffer(raw, dtype=np.uint8)
        self.buf[n:] = _SEP
        self.top = int(self.buf.max())  # the largest byte: > 127 not text, > 57 letters
        mask = self.buf <= _SEP  # separators
        sep = np.packbits(mask, bitorder="little").view("<u8")  # [len(buf) / 64] bit j of word i: byte 64i + j
        self.sep = sep
        # A value starts after a separator (the text is as if preceded by one): shift each word's
        # bits up by one, carrying in the top bit of the word before.
        after_sep = sep << _ONE
        after_sep[0] |= _ONE
        after_sep[1:] |= sep[:-1] >> np.uint64(63)
        after_sep &= ~sep
        # bit j of word i: a value starts at 64i + j; little-endian, as its bytes are read below
        self.words = after_sep.astype("<u8", copy=False)
        bits = self.words.view(np.uint8)
        self.windows = np.ndarray((len(bits) - 7,), dtype="<u8", buffer=bits, strides=(1,))  # the 64 bits from byte b
        self.before_word = np.zeros(len(self.words) + 1, dtype=np.int64)  # values starting before word i
        np.cumsum(np.bitwise_count(self.words).astype(np.int64), out=self.before_word[1:])
        self.count = int(self.before_word[-1])
        # Only the bitmap and the text stay: big temporaries freed early keep fresh memory (page
        # faults) low for the number parser.
        self.newlines = np.flatnonzero(np.equal(self.buf, 10, out=mask))  # [L - 1] byte offset of each
        self.scratch = mask  # a bool per byte, reused: see _suspect_values

    @cached_property
    def offsets(self) -> np.ndarray:
        """[count] byte offset of every value."""
        return np.flatnonzero(np.unpackbits(self.words.view(np.uint8), bitorder="little").view(np.bool_))

    def index(self, at: np.ndarray) -> np.ndarray:
        """Number of values that start before each byte offset in `at`."""
        word = at >> 6
        below = np.left_shift(_ONE, (at & 63).astype(np.uint64)) - _ONE
        return self.before_word[word] + np.bitwise_count(self.words[word] & below)

    def following(self, at: np.ndarray, k: int) -> np.ndarray:
        """[len(at), k] byte offsets of the k values after each of the values starting at `at`."""
        window = self.windows[at >> 3] >> (at & 7).astype(np.uint64)  # bit 0: the value at `at`
        gap = np.empty((len(at), k), dtype=np.int64)
        less = window - _ONE
        for j in range(k):
            window &= less  # drop the lowest start
            less = window - _ONE
            gap[:, j] = np.bitwise_count(less & ~window)  # trailing zeros: the next start (64 if none)
        if gap.max(initial=0) > _NEAR:  # some not within the window's sure 57 bits: take them from the full list
            far = np.flatnonzero((gap > _NEAR).any(axis=1))
            first = self.index(at[far]) + 1  # index of the value after `at`
            gap[far] = self.offsets[first[:, None] + np.arange(k)] - at[far, None]
        return at[:, None] + gap


def _parse_numbers(tokens: _Tokens, starts: np.ndarray, source: str) -> np.ndarray:
    """float64 values of the numbers starting at byte offsets `starts` [N], bit-identical to float().

    Plain decimals ([+-]digits[.digits], at most _W - 1 characters) are parsed in bulk. The _W bytes
    from each start form a column; weighting digit j by 10^(W-1-j) gives s (the sign's and the dot's
    columns add 0), an integer below 10^W < 2^53, so exact. With the dot at column p, t = 10^(W-1-p)
    (the same weighting of the dot), the digits before it weigh 10x too much: q = floor(s / 10t) is
    exactly their value over 10t, and s - 9qt = m * t' is the digits' integer m times a power of ten,
    exact. One correctly rounded division of exact operands, (s - 9qt) / t, or s / 10^(W - len)
    without a dot, is then the correctly rounded decimal: float()'s result. Anything else (an
    exponent, a long number: rare) goes to float() itself, which also rejects non-numbers.
    """
    # Every _LOAD-byte window of the text as one item: one gather loads a number's bytes, far
    # cheaper than indexing a [len, W] uint8 view.
    windows = np.ndarray((len(tokens.buf) - _LOAD + 1,), dtype=f"V{_LOAD}", buffer=tokens.buf, strides=(1,))
    if len(starts) <= _CHUNK:
        return _parse_chunk(tokens, windows, starts, source)
    return np.concatenate(
        [_parse_chunk(tokens, windows, starts[i:i + _CHUNK], source) for i in range(0, len(starts), _CHUNK)]
    )


def _parse_chunk(tokens: _Tokens, windows: np.ndarray, starts: np.ndarray, source: str) -> np.ndarray:
    n = len(starts)
    # [16, N]: two zero rows, then row j = byte j of each number (its sign included). Temporaries
    # are few and reused in place: fresh memory costs page faults, a large part of the time otherwise.
    rows = np.empty((16, n), dtype=np.uint8)
    rows[:16 - _W] = 0
    c = rows[16 - _W:]  # [W, N]
    np.copyto(c, windows[starts].view(np.uint8).reshape(n, _LOAD)[:, :_W].T)
    neg = c[0] == 45  # '-'
    signed = neg | (c[0] == 43)
    in_num = c > _SEP
    for j in range(1, _W):  # the number ends at its first separator
        in_num[j] &= in_num[j - 1]
    length = in_num.view(np.uint8).sum(axis=0, dtype=np.uint8)  # [N]
    flag = np.equal(c, 46)  # [W, N] the dot, then (reused) the digits
    flag &= in_num
    n_dot = flag.view(np.uint8).sum(axis=0, dtype=np.uint8)
    dot_at = np.multiply(flag.view(np.uint8), _ROW, out=flag.view(np.uint8)).sum(axis=0, dtype=np.uint8)
    c -= np.uint8(48)  # digit value where < 10 (other bytes wrap to >= 10)
    digit = np.less(c, 10, out=flag)
    digit &= in_num
    n_digit = digit.view(np.uint8).sum(axis=0, dtype=np.uint8)
    ok = n_digit + n_dot + signed == length  # nothing but a sign, digits, a dot
    ok &= (n_dot <= 1) & (n_digit > 0) & (length < _W)
    c *= digit
    del in_num, flag, digit  # lower the peak of fresh memory
    # s: the digits as one integer, weighting digit j by 10^(W-1-j), by summing pairs of digits,
    # then pairs of those...: exact integer arithmetic on small arrays.
    pairs = rows[0::2]
    pairs *= np.uint8(10)
    pairs += rows[1::2]  # [8, N] < 100
    quads = np.multiply(pairs[0::2], np.uint16(100), dtype=np.uint16)
    quads += pairs[1::2]  # [4, N] < 10^4
    octs = np.multiply(quads[0::2], np.uint32(10000), dtype=np.uint32)
    octs += quads[1::2]  # [2, N] < 10^8
    s = octs[0] * 1e8
    s += octs[1]  # [N] < 10^W
    has_dot = n_dot > 0
    # uint8 wrap-around only hits numbers that go to float(); the clip keeps their index in range
    exponent = np.where(has_dot, np.uint8(_W - 1) - dot_at, np.uint8(_W) - length)
    t = _POW10[np.minimum(exponent, _W, out=exponent)]
    q = np.multiply(t, 10.0)
    np.divide(s, q, out=q)
    np.floor(q, out=q)
    q *= has_dot
    q *= 9.0
    q *= t
    s -= q
    value = np.divide(s, t, out=s)
    value *= 1 - 2 * neg.view(np.int8)  # int8 +-1: the smallest temporary
    raw = tokens.raw
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


_F32_MAX = float(np.finfo(np.float32).max)


def _bits(compare, tokens: _Tokens, value: int) -> np.ndarray:
    """compare(text, value) per byte as 64-bit words, bit j of word i = byte 64i + j (like _Tokens.sep).

    The per-byte result goes into the file's scratch array: fresh memory for each would cost page
    faults, a large part of the time otherwise."""
    return np.packbits(compare(tokens.buf, value, out=tokens.scratch), bitorder="little").view("<u8")


def _prev(x: np.ndarray, first: int, out: np.ndarray) -> np.ndarray:
    """Bit b of `out` = bit b - 1 of x (bit -1 = `first`). In place: fresh memory costs page faults."""
    np.right_shift(x[:-1], np.uint64(63), out=out[1:])
    out[0] = first
    out |= x << _ONE
    return out


def _suspect_values(tokens: _Tokens) -> list[int]:
    """Byte offsets of the values a whole-file scan cannot vouch for; usually none.

    Vouched for: plain decimals, [+-]digits[.digits] or [+-].digits, shorter than 32 bytes. Such a
    value always converts and is finite in float32 (under 10^32), so the fields the reader does not
    convert need no conversion to be known good. The scan works on bitmaps of 64-bit words (a bit per
    byte: separators, dots, signs) with shifts and one addition: far cheaper than converting the 3x
    more values. Suspects (an exponent, a letter, a sign inside a value, two dots, no digit, a long
    value) are converted one by one (`_check_suspects`).
    """
    raw, sep = tokens.raw, tokens.sep
    dot = _bits(np.equal, tokens, 46)
    sign = _bits(np.equal, tokens, 45)
    if b"+" in raw:  # rare: one pass fewer without
        sign |= _bits(np.equal, tokens, 43)
    sep_before = _prev(sep, 1, np.empty_like(sep))
    sep_after = sep >> _ONE  # bit b = bit b + 1 of sep
    sep_after[:-1] |= sep[1:] << np.uint64(63)
    tmp = _prev(sign, 0, np.empty_like(sep))
    tmp |= sep_before
    tmp &= sep_after
    bad = np.bitwise_and(dot, tmp, out=tmp)  # "." or "-." alone
    np.invert(sep_before, out=sep_before)
    sep_before |= sep_after
    sep_before &= sign
    bad |= sep_before  # a sign inside a value, or alone
    other = _bits(np.less, tokens, 48)  # separators, signs, dots and other punctuation
    np.bitwise_or(sep, dot, out=sep_after)
    sep_after |= sign
    np.invert(sep_after, out=sep_after)
    other &= sep_after
    bad |= other
    if tokens.top > 57:  # letters: nan, inf, 1e-05, ...
        bad |= _bits(np.greater, tokens, 57)
    # Two dots in one value: adding a 1 just after each dot carries through the digits (and signs)
    # that follow it and lands on the next dot or separator; landing on a dot is the fault. A carry
    # crosses at most one word boundary in values under 64 bytes; longer ones are suspects anyway.
    run = np.bitwise_or(sep, dot, out=other)
    np.invert(run, out=run)
    total = _prev(dot, 0, sign)  # sign is no longer needed
    total += run
    carry = np.less(total, run)
    total[1:] += carry[:-1]
    total &= dot
    bad |= total
    bad_bytes = bad.view(np.uint8)
    zero = sep.view(np.uint8) == 0  # 8 bytes with no separator
    bad_bytes[:-3][zero[:-3] & zero[1:-2] & zero[2:-1] & zero[3:]] = 255  # 32 bytes or more: a long value
    words = np.flatnonzero(bad)
    if len(words) == 0:
        return []
    at = np.flatnonzero(np.unpackbits(bad_bytes.reshape(-1, 8)[words], axis=1, bitorder="little")) + 0
    at = (words[at // 64] * 64 + at % 64).tolist()
    starts = []
    for p in at:  # back to each value's start
        while p > 0 and raw[p - 1] > _SEP:
            p -= 1
        if not starts or starts[-1] != p:
            starts.append(p)
    return starts


def _check_suspects(raw: bytes, starts: list[int], body_id_starts: np.ndarray, source: str) -> None:
    """Raise for the first of these values that is not a number, or not finite in float32 (body IDs,
    kept as text, may be any integer)."""
    ids = set(body_id_starts.tolist())
    for at in starts:
        text = _TOKEN.match(raw, at).group()
        try:
            value = float(text)
        except ValueError:
            raise SkeletonFormatError(
                f"{source}: line {_line_of(raw, at)}: non-numeric value {text.decode('ascii', 'replace')!r}"
            ) from None
        if not abs(value) <= _F32_MAX and at not in ids:
            raise SkeletonFormatError(f"{source}: line {_line_of(raw, at)}: value {text.decode('ascii')!r} is not "
                                      "a finite float32 number")


_BODY_LINES = 2 + NUM_JOINTS  # a body's lines: body info, joint count, one per joint
_BODY_NTOK = np.array([BODY_INFO_FIELDS, 1] + [JOINT_FIELDS] * NUM_JOINTS)  # [27] values on each
_BODY_OFFSETS = np.arange(_BODY_LINES)


class _Lines:
    """The non-blank lines of one file (index i = i-th non-blank line), for the structure checks."""

    def __init__(self, tokens: _Tokens, source: str):
        raw = tokens.raw
        self.raw, self.buf, self.source = raw, tokens.buf, source
        newlines = tokens.newlines
        start = np.empty(len(newlines) + 1, dtype=np.int64)  # [L] every line, blank ones included
        start[0] = 0
        start[1:] = newlines + 1
        first_tok = tokens.index(start)  # [L] index of the first value at or after the line's start
        ntok = np.empty_like(first_tok)
        np.subtract(first_tok[1:], first_tok[:-1], out=ntok[:-1])
        ntok[-1] = tokens.count - first_tok[-1]
        self.content = np.flatnonzero(ntok)  # [C] 0-based line number of each non-blank line
        self.ntok = ntok[self.content]  # [C] values on the line
        self.first_tok = first_tok[self.content]  # [C] index of the line's first value
        start = start[self.content]
        begins_with_value = self.buf[start] > _SEP
        # [C] byte offset of the line's first value: its start, unless the line is indented
        self.first_byte = start if begins_with_value.all() else tokens.offsets[self.first_tok]
        # [C] the text of each line as int() reads it (counts), as the reader always took it: from the
        # first value to the next line's when no line but the first is blank or indented, else the line.
        if self.content[-1] - self.content[0] + 1 == len(self.content) and begins_with_value[1:].all():
            self.text_start = self.first_byte
            self.text_end = np.append(self.first_byte[1:], len(raw))
        else:
            self.text_start = start
            self.text_end = np.append(newlines, len(raw))[self.content]
        self.num_frames = 0  # set once read

    def where(self, i: int) -> str:
        return f"{self.source}: line {int(self.content[i]) + 1}"

    def text(self, i: int) -> bytes:
        return self.raw[int(self.text_start[i]):int(self.text_end[i])]

    def count(self, i: int, what: str) -> int:
        """The non-negative integer alone on line i."""
        n_values = int(self.ntok[i])
        if n_values != 1:
            raise SkeletonFormatError(f"{self.where(i)}: {what} has {n_values} values, expected 1")
        text = self.text(i)
        try:
            value = int(text)
        except ValueError:
            raise SkeletonFormatError(f"{self.where(i)}: {what} is not an integer: {text.strip().decode()!r}") from None
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
        starts, ends = self.text_start[heads].tolist(), self.text_end[heads].tolist()
        try:
            n_bodies = np.array([int(self.raw[a:b]) for a, b in zip(starts, ends, strict=True)], dtype=np.int64)
        except (ValueError, OverflowError):
            return None
        n_lines = len(ntok)
        if num_frames and not 0 <= n_bodies.min() <= n_bodies.max() <= n_lines:  # also keeps int64 from overflowing
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
        raw, ntok, starts, ends = self.raw, self.ntok.tolist(), self.text_start.tolist(), self.text_end.tolist()
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
                    self.check_bodies(info_lines, frame_index)  # a bad body before, if any, comes first
                    self.count(i, f"frame {f}: body count")  # raises, saying what is wrong
                    raise
                info_lines.extend(range(i + 1, i + 1 + n_bodies * _BODY_LINES, _BODY_LINES))
                frame_index.extend([f] * n_bodies)
                i += 1 + n_bodies * _BODY_LINES
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
        # A joint count must read 25: check its text is exactly "25"; other spellings go to int().
        at = self.first_byte[safe[:, 1]]
        bad[:, 1] |= (self.buf[at] != 50) | (self.buf[at + 1] != 53) | (self.buf[at + 2] > _SEP)
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


def parse_skeleton_bytes(raw: bytes, full: bool = False, source: str = "<bytes>") -> SkeletonSequence:
    """Parse the bytes of a `.skeleton` file. `full` keeps all 12 joint fields and the body info.

    Each count, body-info line and joint line is a line of its own (as in every NTU file); line
    endings (LF or CRLF), blank lines and runs of spaces or tabs do not matter. Every line's number of
    values is checked, and every value must be a number finite in float32 (a file with `nanx` in an
    orientation field, or 1e300 anywhere, is an error). Without `full` only x, y, z are converted; the
    other fields are checked by a whole-file scan (`_suspect_values`), and those it cannot vouch for
    (an exponent, say) are converted one by one.
    """
    tokens = _Tokens(raw)
    if tokens.top > 127:  # checked on the copy the reader makes anyway: cheaper than bytes.isascii()
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

    _check_suspects(raw, _suspect_values(tokens), lines.first_byte[info], source)

    joint_lines = (info[:, None] + 2 + np.arange(NUM_JOINTS)).reshape(-1)  # [R * V]
    if full:
        n_fields = JOINT_FIELDS
        starts = tokens.offsets[(lines.first_tok[joint_lines, None] + np.arange(n_fields)).reshape(-1)]
    else:  # x is a joint line's first value; y and z follow it
        n_fields = 3
        x = lines.first_byte[joint_lines]
        starts = np.concatenate([x[:, None], tokens.following(x, 2)], axis=1).reshape(-1)  # [R * V * 3]
    values = _parse_numbers(tokens, starts, source)
    id_start = lines.first_byte[info]  # [R] each bodyID, kept as text
    id_next = tokens.following(id_start, 1)[:, 0]
    body_ids = [raw[a:b].rstrip().decode() for a, b in zip(id_start.tolist(), id_next.tolist(), strict=True)]
    body_info = None
    if full:
        info_tok = (lines.first_tok[info, None] + np.arange(1, BODY_INFO_FIELDS)).reshape(-1)  # [R * 9]
        body_info = _parse_numbers(tokens, tokens.offsets[info_tok], source).reshape(-1, BODY_INFO_FIELDS - 1)
    else:
        values = values.astype(np.float32)
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

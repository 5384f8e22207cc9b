"""The reader of a `.skeleton` file's values: one compiled pass over the bytes finds where every value
and every line starts and converts every plain decimal, bit-identical to float(); the few other
values go to float() itself.

Why its own module, and why compiled: a real file holds ~100k values in ~700 KB, and a Python loop
over them (float() per field, as the common scripts do) costs ~80 ms a file, most of the
preprocessing time of NTU's 56,880 files. Vectorised numpy needs some twenty passes over the bytes
(bitmaps of separators, dots and signs; digits gathered into columns) and took ~3.3 ms a file for the
whole parse here; one loop compiled by numba reads each byte once (`scan`, ~1.3 ms a file; measured
with benchmarks/bench_preprocess.py and tests/reference_reader.py, one core, CPU time).

A plain decimal is [+-]digits[.digits] (or [+-].digits, digits.) with 1 to 18 digits. Its digits
read as one integer m and its k digits after the dot give the value m / 10^k; when m < 2^53 and
k <= 22 both are exact doubles, so the one correctly rounded division is the correctly rounded
decimal: float()'s result (Clinger's fast path). The sign is applied after the division, so "-0"
gives -0.0 as float() does. Other plain decimals (19+ digits, or above 2^53) go to float() when
needed; with at most 38 digits before the dot they are under 10^38, so finite in float32. Every other
value (an exponent, a letter, a longer number) is a suspect: float() converts it or rejects it, by
name and line (`Tokens.check_suspects`).
"""

from __future__ import annotations

import re
import threading

import numpy as np

from data_pipeline.compiled import compiled
from data_pipeline.skeleton_names import SkeletonFormatError

# Bytes at or below this are field separators (space, tab, CR, LF and the other control characters):
# the ASCII separators of Python's str.split().
SEP = 32
_TOKEN = re.compile(rb"[^\x00-\x20]+")
_EXACT = 2**53  # integers up to this are exact doubles
_MAX_DIGITS = 18  # digits that always fit an int64
# A value's kind: its digits after the dot (0-22), +32 for a leading '-', +64 if it has a dot. A
# count such as "25" or "+3" is kind 0, and its mant is int() of its text. LONG: a plain decimal
# float() must convert (19+ digits, like body IDs) but with at most _F32_DIGITS before the dot, so a
# number finite in float32; SUSPECT: anything else.
_NEG, _DOT, LONG, SUSPECT = 32, 64, -2, -1
_F32_DIGITS = 38  # under 10^38 < float32's largest, 3.4e38
_POW10 = 10.0 ** np.arange(23)  # exact doubles
_F32_MAX = float(np.finfo(np.float32).max)


@compiled
def scan(text, starts, mant, kind, suspects, line_no, line_tok, line_ntok, line_head):  # pragma: no cover
    """One pass over the bytes [n]: each value's start, digits and kind
    [count], the suspects' indices [S]; each non-blank line's number, first value's index, number of
    values and first three values (float64, NaN where not a plain decimal) [C]. Returns
    (count, S, C, the OR of all bytes: > 127 if any is not ASCII)."""
    n = len(text)
    count = 0
    n_suspects = 0
    lines = 0
    line = 0
    acc = 0
    i = 0
    while i < n:
        b = text[i]
        acc |= b
        if b <= SEP:
            line += b == 10
            i += 1
            continue
        if lines == 0 or line_no[lines - 1] != line:  # the line's first value
            line_no[lines] = line
            line_tok[lines] = count
            lines += 1
        start = i
        negative = b == 45
        if negative or b == 43:
            i += 1
        m = 0
        first = i
        c = SEP
        while i < n:  # the integer part
            c = text[i]
            d = np.uint8(c - np.uint8(48))  # a digit's value; other bytes wrap to >= 10
            if d >= 10:
                break
            m = m * 10 + d
            i += 1
        whole = i - first
        frac = 0
        dot = c == 46 and i < n
        if dot:
            i += 1
            first = i
            c = SEP
            while i < n:  # the fraction
                c = text[i]
                d = np.uint8(c - np.uint8(48))
                if d >= 10:
                    break
                m = m * 10 + d
                i += 1
            frac = i - first
        starts[count] = start
        digits = whole + frac
        value = np.nan
        if (i < n and c > SEP) or digits == 0:  # not a plain decimal: skip to its end
            kind[count] = SUSPECT
            while i < n:
                c = text[i]
                acc |= c
                if c <= SEP:
                    break
                i += 1
        elif digits <= _MAX_DIGITS and m <= _EXACT and frac <= 22:
            mant[count] = m
            kind[count] = frac + _NEG * negative + _DOT * dot
            value = m / _POW10[frac]
            if negative:
                value = -value
        else:
            kind[count] = LONG if whole <= _F32_DIGITS else SUSPECT
        if kind[count] == SUSPECT:
            suspects[n_suspects] = count
            n_suspects += 1
        col = count - line_tok[lines - 1]
        if col < 3:
            line_head[lines - 1, col] = value
        count += 1
    for j in range(lines - 1):
        line_ntok[j] = line_tok[j + 1] - line_tok[j]
    if lines:
        line_ntok[lines - 1] = count - line_tok[lines - 1]
    return count, n_suspects, lines, acc


class _Scratch(threading.local):
    """Per-thread output arrays of `scan`, reused from file to file: fresh arrays for each file would
    cost page faults (zeroed pages from the kernel), as much as the scan itself."""

    arrays: tuple[np.ndarray, ...] = ()

    def get(self, n: int) -> tuple[np.ndarray, ...]:
        """`scan`'s outputs, with room for n // 2 + 1 values (one per two bytes at most), so lines."""
        size = n // 2 + 1
        if not self.arrays or len(self.arrays[0]) < size:
            size += size // 4
            self.arrays = tuple(np.empty(size, dtype=t) for t in (np.int64, np.int64, np.int8, np.int64,
                                                                  np.int64, np.int64, np.int64)) + (
                np.empty((size, 3)),)
        return self.arrays


_SCRATCH = _Scratch()


def _line_of(raw: bytes, offset: int) -> int:
    return raw.count(b"\n", 0, offset) + 1


class Tokens:
    """The values (runs of non-separator bytes) and lines of one file, from one `scan`.

    The arrays are views of the thread's scratch: valid until the thread reads its next file.
    """

    def __init__(self, raw: bytes):
        self.raw = raw
        arrays = _SCRATCH.get(len(raw))
        count, n_suspects, lines, self.top = scan(np.frombuffer(raw, dtype=np.uint8), *arrays)
        starts, mant, kind, suspects, line_no, line_tok, line_ntok, line_head = arrays
        self.count = count
        self.starts = starts[:count]  # [count] byte offset of each value
        self.mant = mant[:count]  # [count] its digits as an integer (exact plain decimals only)
        self.kind = kind[:count]  # [count] see _NEG, _DOT, LONG, SUSPECT
        self.suspects = suspects[:n_suspects]  # [S] indices of the SUSPECT values, ascending
        self.line_no = line_no[:lines]  # [C] 0-based number of each non-blank line (lines end at LF)
        self.line_tok = line_tok[:lines]  # [C] index of its first value
        self.line_ntok = line_ntok[:lines]  # [C] its number of values
        self.line_head = line_head[:lines]  # [C, 3] its first three values, NaN where not plain (or none)

    def text(self, k: int) -> bytes:
        return _TOKEN.match(self.raw, int(self.starts[k])).group()

    def where(self, k: int) -> str:
        return f"line {_line_of(self.raw, int(self.starts[k]))}"

    def values(self, idx: np.ndarray, source: str) -> np.ndarray:
        """float64 of the values with indices `idx` [N], bit-identical to float(); raises for a non-number."""
        kind = self.kind[idx]
        value = self.mant[idx] / _POW10.take(kind & 31, mode="clip")  # as the scan divides, then the sign
        np.negative(value, out=value, where=(kind & _NEG) != 0)
        for i in np.flatnonzero(kind < 0).tolist():
            value[i] = self._float(int(idx[i]), source)
        return value

    def line_heads(self, lines: np.ndarray, source: str) -> np.ndarray:
        """float64 [N, 3] of the first three values of the non-blank lines `lines` [N] (each has three),
        bit-identical to float(): the scan's, and float()'s where it left NaN (exponents, long values)."""
        head = self.line_head[lines]
        for i, j in np.argwhere(np.isnan(head)).tolist():
            head[i, j] = self._float(int(self.line_tok[lines[i]]) + j, source)
        return head

    def _float(self, k: int, source: str) -> float:
        text = self.text(k)
        try:
            return float(text)
        except ValueError:
            raise SkeletonFormatError(
                f"{source}: {self.where(k)}: non-numeric value {text.decode('ascii', 'replace')!r}"
            ) from None

    def check_suspects(self, body_ids: np.ndarray, source: str) -> None:
        """Raise for the first value, in file order, that is not a number or not finite in float32.
        `body_ids` [R]: indices of the body IDs, kept as text, so any integer."""
        if len(self.suspects) == 0:
            return
        ids = set(body_ids.tolist())
        for k in self.suspects.tolist():
            value = self._float(k, source)
            if not abs(value) <= _F32_MAX and k not in ids:
                raise SkeletonFormatError(f"{source}: {self.where(k)}: value {self.text(k).decode('ascii')!r} "
                                          "is not a finite float32 number")

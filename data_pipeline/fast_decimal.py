"""The fast reader of a `.skeleton` file's numbers: where values and lines start, and their float64
values, bit-identical to float(), with every value vouched for as a number finite in float32.

Why its own module, and why this way: a real file holds ~100k values in ~700 KB, and a Python
loop over them (float() per field, as the common scripts do) costs ~80 ms a file, most of the
preprocessing time of NTU's 56,880 files. Here the work is a few numpy passes over the bytes:

- `Tokens` marks where each value starts in a bitmap (a bit per byte) instead of listing offsets:
  listing them would cost more than all the rest; the bitmap answers "how many values start
  before offset X" and "where do the next k values start" with popcounts.
- `parse_numbers` converts the values the reader needs (x, y, z) in bulk: digits gathered into
  columns, weighted into one exact integer and divided once by a power of ten, which is exactly
  float()'s correctly rounded result; anything unusual (an exponent) goes to float() itself.
- `suspect_values` vouches for all the other values (9 more per joint, the body info) without
  converting them: bitmaps of separators, dots and signs, shifted and added, find every value that
  is not a plain decimal; only those few are converted (`check_suspects`).
- Temporaries are few and reused in place, and the per-byte buffers are kept per thread from file
  to file (`_Scratch`): fresh memory costs page faults, otherwise a large part of the time.
- Byte classes are packed with `_equal_bits` (an xor, then packbits of the non-zero bytes): cheaper
  than a comparison per byte; digits are told apart from everything else in one pass.
"""

from __future__ import annotations

import re
import threading
from functools import cached_property

import numpy as np

from data_pipeline.skeleton_names import SkeletonFormatError

# Bytes at or below this are field separators (space, tab, CR, LF and the other control characters):
# the ASCII separators of Python's str.split().
SEP = 32
_TOKEN = re.compile(rb"[^\x00-\x20]+")
_LOAD = 16  # bytes loaded from each number's start
_W = 14  # numbers of up to _W - 1 characters, sign included (all NTU values), are parsed in bulk; longer: float()
_CHUNK = 65536  # numbers parsed per bulk step: a whole file's xyz (up to 67,500 for 3 bodies x 300 frames), ~5 MB
# of temporaries; 4x smaller steps cost ~10% more (more numpy calls, measured)
_ROW = np.arange(_W, dtype=np.uint8)[:, None]  # [W, 1] row numbers
# 10^(W-1-p) for p = 0..W-1, then the same negated: exact doubles, indexed by p + W * (leading '-')
_SCALE = np.concatenate([10.0 ** (_W - 1 - np.arange(_W)), -(10.0 ** (_W - 1 - np.arange(_W)))])
_NEAR = 56  # values starting at most this many bytes after another are found from its 64-bit window
_ONE = np.uint64(1)


class _Scratch(threading.local):
    """Per-thread byte and flag buffers, reused from file to file: a fresh ~1 MB array per file costs
    ~200 page faults (zeroed pages from the kernel), as much as a whole pass over the text."""

    text = np.empty(0, dtype=np.uint8)
    flags = np.empty(0, dtype=np.bool_)

    def get(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        if len(self.text) < n:
            self.text = np.empty(n + n // 4, dtype=np.uint8)
            self.flags = np.empty(n + n // 4, dtype=np.bool_)
        return self.text[:n], self.flags[:n]


_SCRATCH = _Scratch()


def _line_of(raw: bytes, offset: int) -> int:
    return raw.count(b"\n", 0, offset) + 1


class Tokens:
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
        # Both live in the thread's scratch buffers: the reader keeps nothing of them.
        self.buf, mask = _SCRATCH.get(n + 64 + (-n) % 64)
        self.buf[:n] = np.frombuffer(raw, dtype=np.uint8)
        self.buf[n:] = SEP
        self.top = int(self.buf.max())  # the largest byte: > 127 not text, > 57 letters
        np.less_equal(self.buf, SEP, out=mask)  # separators
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
        self.scratch = mask  # a bool per byte, reused: see _equal_bits
        self.newlines = _bit_positions(_equal_bits(self, 10))  # [L - 1] byte offset of each

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


def _bit_positions(words: np.ndarray) -> np.ndarray:
    """Ascending positions of the set bits of a bitmap of 64-bit words (bit j of word i = 64i + j).

    Cheaper than np.flatnonzero over a bool per byte: a few passes over the words that have bits
    (each one's lowest bit at once), then one pass per further bit over the few words with several
    (a line's newline: one, or two or three in a run of short lines)."""
    at = np.flatnonzero(words != 0)  # (a bool mask first: 2x cheaper than flatnonzero(words))
    w = words[at]
    counts = np.bitwise_count(w)
    low = ~w
    low += _ONE
    low &= w  # the lowest set bit
    w ^= low
    low -= _ONE
    base = at * 64
    first = np.bitwise_count(low).astype(np.int64)
    first += base
    several = np.flatnonzero(counts > 1)
    if len(several) == 0:
        return first
    slot = np.cumsum(counts, dtype=np.int64)
    out = np.empty(int(slot[-1]), dtype=np.int64)
    slot -= counts  # where each word's lowest bit goes
    out[slot] = first
    w, slot, base = w[several], slot[several] + 1, base[several]
    while len(w):
        low = w & (~w + _ONE)
        w ^= low
        low -= _ONE
        out[slot] = base + np.bitwise_count(low)
        more = np.flatnonzero(w)
        if len(more) < len(w):
            w, slot, base = w[more], slot[more], base[more]
        slot += 1
    return out


def parse_numbers(tokens: Tokens, starts: np.ndarray, source: str) -> np.ndarray:
    """float64 values of the numbers starting at byte offsets `starts` [N], bit-identical to float().

    Plain decimals ([+-]digits[.digits], at most _W - 1 characters) are parsed in bulk. The _W bytes
    from each start form a column; with every byte but the digits zeroed (sign, dot, separator and
    what follows), weighting digit j by 10^(W-1-j) gives s, an integer below 10^W < 2^53, so exact.
    Take p as the dot's column, or the length for a number without a dot (as if its dot were at its
    end) and t = 10^(W-1-p): the digits before p weigh 10x too much, so q = trunc(s / 10t) is exactly
    their value I (the digits after p add less than 0.1 to s / 10t, far from the next integer), and
    s - 9 I t = m t' is the digits' integer m times a power of ten, exact (integers below 2^53).
    One correctly rounded division of exact operands, (s - 9 I t) / t, is then the correctly rounded
    decimal: float()'s result. The sign rides on t (-t for a leading '-': the quotient is the exact
    negation, -0.0 for "-0" too). Anything else (an exponent, a long number: rare) goes to float()
    itself, which also rejects non-numbers.
    """
    # Every _LOAD-byte window of the text as one item: one gather loads a number's bytes, far
    # cheaper than indexing a [len, W] uint8 view.
    windows = np.ndarray((len(tokens.buf) - _LOAD + 1,), dtype=f"V{_LOAD}", buffer=tokens.buf, strides=(1,))
    if len(starts) <= _CHUNK:
        return _parse_chunk(tokens, windows, starts, source)
    return np.concatenate(
        [_parse_chunk(tokens, windows, starts[i:i + _CHUNK], source) for i in range(0, len(starts), _CHUNK)]
    )


def _parse_chunk(tokens: Tokens, windows: np.ndarray, starts: np.ndarray, source: str) -> np.ndarray:
    n = len(starts)
    # [16, N]: two zero rows, then row j = byte j of each number (its sign included). Temporaries
    # are few and reused in place: fresh memory costs page faults, a large part of the time otherwise.
    rows = np.empty((16, n), dtype=np.uint8)
    rows[:16 - _W] = 0
    c = rows[16 - _W:]  # [W, N]
    np.copyto(c, windows[starts].view(np.uint8).reshape(n, _LOAD)[:, :_W].T)
    neg = c[0] == 45  # '-'
    signed = neg | (c[0] == 43)
    in_num = c > SEP
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
    np.multiply(c, digit.view(np.uint8), out=c)  # digits only (u8 x u8: no casting loop)
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
    # p: the dot's column, or the length (a number without a dot is one with its dot at the end)
    p = np.where(n_dot > 0, dot_at, length)
    scale = np.minimum(p, _W - 1, out=p).astype(np.intp)  # the clip keeps float()'s numbers in range
    scale += np.multiply(neg, _W, dtype=np.intp)
    t = _SCALE.take(scale, mode="clip")  # +-10^(W-1-p)
    q = np.multiply(t, 10.0)
    np.divide(s, q, out=q)
    np.trunc(q, out=q)  # +-the integer part
    q *= t
    q *= 9.0
    s -= q
    value = np.divide(s, t, out=s)
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


def _equal_bits(tokens: Tokens, value: int) -> np.ndarray:
    """Where the text's bytes equal `value`, as 64-bit words, bit j of word i = byte 64i + j (like Tokens.sep).

    packbits marks non-zero bytes, so it packs text ^ value (zero where equal), inverted: an xor is a
    vectorised pass, cheaper than a comparison. The bytes go into the file's scratch array: fresh
    memory for each pass would cost page faults, a large part of the time otherwise."""
    differs = np.bitwise_xor(tokens.buf, np.uint8(value), out=tokens.scratch.view(np.uint8))
    return np.invert(np.packbits(differs, bitorder="little").view("<u8"))


def _prev(x: np.ndarray, first: int, out: np.ndarray) -> np.ndarray:
    """Bit b of `out` = bit b - 1 of x (bit -1 = `first`). In place: fresh memory costs page faults."""
    np.right_shift(x[:-1], np.uint64(63), out=out[1:])
    out[0] = first
    out |= x << _ONE
    return out


def suspect_values(tokens: Tokens) -> list[int]:
    """Byte offsets of the values a whole-file scan cannot vouch for; usually none.

    Vouched for: plain decimals, [-]digits[.digits] or [-].digits, shorter than 32 bytes. Such a
    value always converts and is finite in float32 (under 10^32), so the fields the reader does not
    convert need no conversion to be known good. The scan works on bitmaps of 64-bit words (a bit per
    byte: separators, dots, signs) with shifts and one addition: far cheaper than converting the 3x
    more values. Suspects (an exponent, a letter, a sign inside a value, two dots, no digit, a long
    value) are converted one by one (`check_suspects`).
    """
    raw, sep = tokens.raw, tokens.sep
    dot = _equal_bits(tokens, 46)
    sign = _equal_bits(tokens, 45)  # '-' only: a '+' (no NTU file has one) is a suspect, vouched for by float()
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
    # Not a digit: one pass for punctuation and letters (nan, inf, 1e-05) alike: bytes below "0"
    # wrap around to above 9 too.
    flags = tokens.scratch
    digit_value = np.subtract(tokens.buf, np.uint8(48), out=flags.view(np.uint8))
    other = np.packbits(np.greater(digit_value, 9, out=flags), bitorder="little").view("<u8")
    np.bitwise_or(sep, dot, out=sep_after)
    sep_after |= sign
    np.invert(sep_after, out=sep_after)
    other &= sep_after
    bad |= other
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
    run = zero[:-3] & zero[1:-2]
    run &= zero[2:-1]
    run &= zero[3:]  # 32 bytes or more: a long value; its first byte's bit marks it (an or, not a masked store)
    np.bitwise_or(bad_bytes[:-3], run.view(np.uint8), out=bad_bytes[:-3])
    words = np.flatnonzero(bad != 0)  # (a bool mask first: 2x cheaper than flatnonzero(bad))
    if len(words) == 0:
        return []
    at = np.flatnonzero(np.unpackbits(bad_bytes.reshape(-1, 8)[words], axis=1, bitorder="little")) + 0
    at = (words[at // 64] * 64 + at % 64).tolist()
    starts = []
    for p in at:  # back to each value's start
        while p > 0 and raw[p - 1] > SEP:
            p -= 1
        if not starts or starts[-1] != p:
            starts.append(p)
    return starts


def check_suspects(raw: bytes, starts: list[int], body_id_starts: np.ndarray, source: str) -> None:
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

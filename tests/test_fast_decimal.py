"""The bulk decimal parser (`parse_numbers`): bit for bit what float() gives, or float()'s own error."""

from __future__ import annotations

import re

import numpy as np
import pytest

from data_pipeline import fast_decimal
from data_pipeline.fast_decimal import Tokens, parse_numbers
from data_pipeline.skeleton_names import SkeletonFormatError

SEPARATORS = [" ", "  ", "\t", "\n", "\r\n", " \r\n"]


def random_decimals(rng: np.random.Generator, count: int) -> list[str]:
    """Strings of 1-13+ characters float() accepts: signs, leading zeros, '.5' and '5.' forms, every
    dot position, values printed with 1-17 significant digits (near rounding boundaries at 16-17)."""
    out = []
    while len(out) < count:
        kind = rng.integers(5)
        if kind == 0:  # %.{1..17}g of values over many magnitudes: exponents too, sent to float()
            v = rng.normal() * 10.0 ** rng.integers(-9, 10)
            text = f"{v:.{rng.integers(1, 18)}g}"
        elif kind == 1:  # random digit strings, a dot anywhere (or none), leading zeros kept
            n = int(rng.integers(1, 14))
            text = "".join(rng.choice(list("0123456789"), n))
            if rng.random() < 0.8:
                at = int(rng.integers(0, n + 1))
                text = text[:at] + "." + text[at:]
        elif kind == 2:  # fixed-point like the SDK files, 0-12 decimals
            v = rng.normal() * 10.0 ** rng.integers(-4, 5)
            text = f"{v:.{rng.integers(0, 13)}f}"
        elif kind == 3:  # halfway cases and their neighbours at 16-17 significant digits
            v = float(f"{rng.random():.15f}") + 5e-17 * rng.integers(-2, 3)
            text = f"{v:.17g}"
        else:  # short ones: "0", "-0", ".5", "5.", "-.25"
            text = str(rng.choice(["0", "-0", ".5", "5.", "-.25", "+1.25", "007", "-0.0", "0.", "9"]))
        if rng.random() < 0.4 and text[0] not in "+-":
            text = "-" + text
        try:
            float(text)
        except ValueError:
            continue
        out.append(text)
    return out


def parse(texts: list[str], rng: np.random.Generator) -> np.ndarray:
    seps = rng.choice(SEPARATORS, size=len(texts))
    tokens = Tokens("".join(t + s for t, s in zip(texts, seps, strict=True)).encode())
    assert tokens.count == len(texts)
    return parse_numbers(tokens, tokens.offsets, "test")


@pytest.mark.parametrize("seed, chunk", [(0, None), (1, None), (2, 1000)])
def test_bulk_parse_is_bit_identical_to_float(seed, chunk, monkeypatch):
    if chunk:  # several bulk steps
        monkeypatch.setattr(fast_decimal, "_CHUNK", chunk)
    rng = np.random.default_rng(seed)
    texts = random_decimals(rng, 40_000)
    got = parse(texts, rng)
    expected = np.array([float(t) for t in texts])
    bad = np.flatnonzero(got.view(np.int64) != expected.view(np.int64))  # also tells -0.0 from 0.0
    assert len(bad) == 0, [(texts[i], got[i], expected[i]) for i in bad[:10]]


def test_every_length_and_dot_position_of_plain_decimals():
    rng = np.random.default_rng(3)
    texts = []
    for n in range(1, 16):  # up to 15 digits: past the bulk parser's width, so float()'s part too
        for at in range(n + 1):
            for sign in ("", "-"):
                digits = "".join(rng.choice(list("0123456789"), n))
                texts += [sign + digits[:at] + "." + digits[at:], sign + digits]
    got = parse(texts, rng)
    assert got.tobytes() == np.array([float(t) for t in texts]).tobytes()


NON_NUMBERS = ["1.2.3", "..5", "5..", "-", ".", "-.", "+", "--1", "1-2", "+-1", "-+1", "1e", "e5", "1,5",
               "0x10", "1/2", ":", "12345678901.2.", "-0.00149743.1", "nan0", "in"]


def test_non_numbers_raise_naming_the_line():
    rng = np.random.default_rng(4)
    texts = list(NON_NUMBERS)
    for alphabet in ("0123456789.-+", "0123456789.-+eE,x/:"):  # 200 random non-numbers from each
        found = 0
        while found < 200:
            text = "".join(rng.choice(list(alphabet), size=rng.integers(1, 14)))
            try:
                float(text)
            except ValueError:
                texts.append(text)
                found += 1
    for text in texts:
        tokens = Tokens(f"1.5 2\n-0.25 {text} 3\n".encode())
        with pytest.raises(SkeletonFormatError, match=re.escape(f"test: line 2: non-numeric value '{text}'")):
            parse_numbers(tokens, tokens.offsets, "test")


@pytest.mark.parametrize("density", [0.0, 0.001, 0.02, 0.5])
def test_bit_positions_of_a_bitmap(density):
    """The set bits of a bitmap (newlines, a few per 64-bit word or many), in order."""
    rng = np.random.default_rng(5)
    bits = rng.random(64 * 500) < density
    words = np.packbits(bits, bitorder="little").view("<u8")
    np.testing.assert_array_equal(fast_decimal._bit_positions(words), np.flatnonzero(bits))


def test_long_values_are_suspects_at_every_alignment():
    """A value of 39 bytes or more (beyond float32 if all nines) is never vouched for by the whole-file
    scan, wherever it starts within the 64-bit words; plain decimals under 32 bytes always are (those
    between may be either: they are finite in float32, and float() vouches for suspects)."""
    for offset in range(70):
        for length in (5, 31, 39, 40, 64, 100):
            text = "1.5 " + "0" * offset + " " + "9" * length + " 2\n"
            start = len(text) - length - 3
            suspects = fast_decimal.suspect_values(Tokens(text.encode()))
            assert (start in suspects) == (length >= 39), (offset, length, suspects)

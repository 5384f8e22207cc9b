"""The compiled value scan (`fast_decimal.Tokens`): every value found, bit for bit what float() gives or
float()'s own error, every line's first value, and suspects flagged wherever they are."""

from __future__ import annotations

import re

import numpy as np
import pytest

from data_pipeline import fast_decimal
from data_pipeline.fast_decimal import Tokens
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
    return tokens.values(np.arange(tokens.count), "test")


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_values_are_bit_identical_to_float(seed):
    rng = np.random.default_rng(seed)
    texts = random_decimals(rng, 40_000)
    got = parse(texts, rng)
    expected = np.array([float(t) for t in texts])
    bad = np.flatnonzero(got.view(np.int64) != expected.view(np.int64))  # also tells -0.0 from 0.0
    assert len(bad) == 0, [(texts[i], got[i], expected[i]) for i in bad[:10]]


def test_every_length_and_dot_position_of_plain_decimals():
    """Up to 21 digits: past the 18 digits and 2^53 of the exact path, so float()'s part too."""
    rng = np.random.default_rng(3)
    texts = []
    for n in range(1, 22):
        for at in range(n + 1):
            for sign in ("", "-", "+"):
                digits = "".join(rng.choice(list("0123456789"), n))
                texts += [sign + digits[:at] + "." + digits[at:], sign + digits]
    texts += ["9007199254740992", "9007199254740993", "900719925474099.3", "0." + "0" * 22 + "1", "0." + "1" * 22]
    got = parse(texts, rng)
    assert got.tobytes() == np.array([float(t) for t in texts]).tobytes()


def test_lines_and_their_first_values():
    """Blank lines, CRLF, tabs, indented lines, no final newline: each non-blank line's number and
    first value, as str.split() counts them."""
    rng = np.random.default_rng(6)
    for _ in range(200):
        lines = []
        for _ in range(rng.integers(0, 12)):
            words = [str(rng.integers(-99, 100)) for _ in range(rng.integers(0, 5))]
            lines.append(str(rng.choice(["", " ", "\t"])) + str(rng.choice([" ", "\t", "  "])).join(words)
                         + str(rng.choice(["", " ", "\r"])))
        text = "\n".join(lines) + str(rng.choice(["", "\n", "\r\n"]))
        tokens = Tokens(text.encode())
        per_line = [line.split() for line in text.split("\n")]
        content = [i for i, words in enumerate(per_line) if words]
        first = np.cumsum([0] + [len(words) for words in per_line])[content]
        assert tokens.count == len(text.split())
        np.testing.assert_array_equal(tokens.line_no, content)
        np.testing.assert_array_equal(tokens.line_tok, first)
        np.testing.assert_array_equal(tokens.values(np.arange(tokens.count), "t"), [float(w) for w in text.split()])


def test_line_heads_are_the_first_three_values_as_float_gives_them():
    """The x, y, z path: each line's first three values from the scan, float() where the scan cannot
    (exponents, 19+ digits), bit for bit; and the suspects listed are exactly the values float() must vouch for."""
    rng = np.random.default_rng(7)
    texts = random_decimals(rng, 12_000) + ["1e-05", "-2.5E+3", "123456789012345678901", "0." + "1" * 25]
    texts += list(rng.permutation(texts[-4:] * 20))
    lines = [texts[i:i + 4] for i in range(0, len(texts) - 3, 4)]
    tokens = Tokens("\n".join(" ".join(words) for words in lines).encode())
    got = tokens.line_heads(np.arange(len(lines)), "test")
    expected = np.array([[float(w) for w in words[:3]] for words in lines])
    assert got.tobytes() == expected.tobytes()
    words = [w for line in lines for w in line]
    plain = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)")
    assert tokens.suspects.tolist() == [
        k for k, w in enumerate(words) if not plain.fullmatch(w) or len(w.lstrip("+-").split(".")[0]) > 38]


def test_scratch_reused_from_a_larger_file_leaks_nothing():
    big = Tokens(("1.25 -3 7\n" * 5000).encode())
    assert big.count == 15000
    small = Tokens(b"2.5\n\n4")
    assert small.count == 2
    np.testing.assert_array_equal(small.values(np.arange(2), "t"), [2.5, 4.0])
    np.testing.assert_array_equal(small.line_no, [0, 2])


def test_non_ascii_bytes_are_seen():
    assert Tokens(b"1.5 2\n3").top <= 127
    assert Tokens("1.5 2\n3 é".encode()).top > 127
    assert Tokens(b"1.5 \xff2\n").top > 127


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
        message = re.escape(f"test: line 2: non-numeric value '{text}'")
        with pytest.raises(SkeletonFormatError, match=message):
            tokens.values(np.arange(tokens.count), "test")
        with pytest.raises(SkeletonFormatError, match=message):
            tokens.check_suspects(np.array([], dtype=np.int64), "test")


def test_values_beyond_float32_are_errors_wherever_they_start():
    """38 digits before the dot are under 10^38, finite in float32, and vouched for by the scan; 39 or
    more may not be: float() decides (3e38 passes, 1e39 fails), unless the value is a body ID."""
    for offset in range(20):
        pad = "0." + "5" * offset
        for whole, ok in (("9" * 38, True), ("3" + "0" * 38, True), ("1" + "0" * 39, False), ("9" * 60, False)):
            for frac in ("", ".5"):
                text = f"1.5 {pad}\n{whole}{frac} 2\n"
                tokens = Tokens(text.encode())
                assert (tokens.kind[2] == fast_decimal.SUSPECT) == (len(whole) > 38), (offset, whole)
                if ok:
                    tokens.check_suspects(np.array([], dtype=np.int64), "t")
                else:
                    with pytest.raises(SkeletonFormatError, match="t: line 2: value .* is not a finite float32"):
                        tokens.check_suspects(np.array([], dtype=np.int64), "t")
                    tokens.check_suspects(np.array([2]), "t")  # a body ID may be any integer

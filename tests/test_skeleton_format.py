"""The `.skeleton` reader/writer: exact numbers, round trips, tolerance of layout, precise errors."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from reference_reader import read_skeleton_linewise

from data_pipeline.skeleton_format import (
    SkeletonFormatError,
    SkeletonSequence,
    format_skeleton,
    parse_sample_name,
    parse_skeleton_text,
    read_skeleton,
    write_skeleton,
)

# 25 joint lines of one Kinect v2 body, as the SDK writes them (x y z depthX depthY colorX colorY
# orientationW X Y Z trackingState).
JOINTS_A = [
    "0.218119 0.1734934 3.784725 277.0931 195.2224 1021.435 491.1341 0.2757616 -0.1308854 -0.1474304 -0.1000782 2",
    "0.2254435 0.4512332 3.752572 277.9882 167.9898 1024.042 411.8174 0.6094118 -0.17121 -0.1214722 0.1410356 2",
    "0.2382957 0.7266178 3.72407 279.4196 140.5883 1028.211 332.0086 -0.04830818 -0.07891369 -0.4456269 "
    "-0.004608587 2",
    "0.2462539 0.8640667 3.716618 280.2503 126.9096 1030.631 292.1684 0 0 0 0 2",
    "0.06843154 0.6398058 3.735459 262.7049 149.3119 979.5285 357.4166 0.2673524 -0.1359478 0.4208505 "
    "-0.002159824 2",
    "0.0002012096 0.4085646 3.764174 256.0196 172.2743 960.057 424.2961 0.2333529 -0.5163573 0.138672 -0.6752816 2",
    "-0.02758837 0.1887286 3.740022 253.3002 193.5309 952.1366 486.2076 -0.8141316 -0.1217908 -0.359971 0.06562112 2",
    "-0.03258997 0.1287949 3.726361 252.799 199.3499 950.677 503.1557 0.8979027 -0.3326893 -0.2495774 0.08216158 1",
    "0.4085856 0.6420364 3.717997 296.2212 148.7979 1077.147 355.9195 0.1972053 -0.07056243 -0.08237213 0.2809852 2",
    "0.4764992 0.4124517 3.735887 302.682 171.5926 1095.965 422.3108 0.2079631 -0.4134703 -0.03167253 0.01411474 2",
    "0.4835249 0.1811639 3.702611 303.796 194.0921 1099.209 487.842 -0.4217938 0.1039356 -0.3431826 0.3888267 2",
    "0.4956888 0.1257799 3.683124 305.2577 199.501 1103.466 503.5958 0.07709837 0.03572259 -0.2364113 -0.04744393 2",
    "0.1380177 0.1652504 3.793796 269.315 196.0578 998.7809 493.5671 -0.7990985 -0.452563 0.1451359 -0.8514268 2",
    "0.1177802 -0.2070714 3.835738 267.2384 231.7584 992.7326 597.5478 0.3386434 -0.6984386 0.3026954 -0.3381988 2",
    "0.1044401 -0.5571744 3.889623 265.8275 264.4282 988.6231 692.7006 0.3115964 0.05238048 -0.614734 0.4996595 2",
    "0.09347387 -0.6248247 3.805905 264.989 272.0871 986.1812 715.0078 0 0 0 0 2",
    "0.2961909 0.1685984 3.787834 284.6195 195.7091 1043.356 492.5518 -0.3900609 0.4394347 -0.2171568 -0.02047617 2",
    "0.3145174 -0.2071793 3.827277 286.0771 231.8124 1047.602 597.705 -0.3173186 -0.2504292 -0.5110901 0.5028277 2",
    "0.327549 -0.5453541 3.875347 286.9348 263.505 1050.1 690.0117 -0.06163503 0.3863686 0.005329839 -0.2777614 2",
    "0.340117 -0.6130872 3.79352 288.8146 271.1508 1055.575 712.2809 0 0 0 0 2",
    "0.2387247 0.6512073 3.725929 279.4501 148.0316 1028.3 353.6875 -0.1199687 -0.5514299 -0.3227384 0.661623 2",
    "-0.04544628 0.1008593 3.704958 251.5105 202.0365 946.9241 510.9805 -0.2684933 -0.4216375 0.1349305 0.5629089 1",
    "-0.009188408 0.1260329 3.711576 255.0939 199.5718 957.361 503.8022 -0.5816097 -0.08340874 -0.252821 "
    "-0.7044078 1",
    "0.5057314 0.09453791 3.65957 306.5791 202.5451 1107.315 512.462 0.2939707 -0.009377567 0.02857674 -0.3009246 2",
    "0.4867258 0.1123053 3.689318 304.2858 200.8587 1100.636 507.5502 0.1819137 -0.2157189 -0.05716128 -0.4433043 2",
]
# Second body: x moved 1 m to the right, written the way the SDK would (7 significant digits).
JOINTS_B = [" ".join([f"{float(ln.split()[0]) + 1:.7g}"] + ln.split()[1:]) for ln in JOINTS_A]
# Two IDs that float64 cannot tell apart (they differ below its precision): kept as text.
ID_A, ID_B = "72057594037931101", "72057594037931102"
INFO_A = "0 1 0 1 0 0 0.03418261 -0.1184127 2"
INFO_B = "0 1 1 1 1 0 -0.2261451 0.05143541 2"


def hand_file(newline: str = "\r\n") -> str:
    """3 frames: body A; no body; bodies A and B."""
    lines = ["3", "1", f"{ID_A} {INFO_A}", "25", *JOINTS_A, "0",
             "2", f"{ID_A} {INFO_A}", "25", *JOINTS_A, f"{ID_B} {INFO_B}", "25", *JOINTS_B]
    return newline.join(lines) + newline


def naive_values(lines: list[str], cols: slice) -> np.ndarray:
    return np.array([[float(v) for v in ln.split()[cols]] for ln in lines])


def test_hand_written_file_parses_to_its_numbers():
    seq = parse_skeleton_text(hand_file(), source="S001C001P001R001A001.skeleton")
    assert seq.num_frames == 3
    assert seq.frame_index.tolist() == [0, 2, 2]
    assert seq.bodies_per_frame.tolist() == [1, 0, 2]
    assert seq.body_ids == [ID_A, ID_A, ID_B]
    assert seq.joints.dtype == np.float32 and seq.joints.shape == (3, 25, 3)
    np.testing.assert_array_equal(seq.joints[0, 0], np.array([0.218119, 0.1734934, 3.784725], np.float32))
    np.testing.assert_array_equal(seq.joints[2, 5], np.array([1.000201, 0.4085646, 3.764174], np.float32))
    a = naive_values(JOINTS_A, slice(0, 3)).astype(np.float32)
    np.testing.assert_array_equal(seq.joints[0], a)
    np.testing.assert_array_equal(seq.joints[1], a)
    np.testing.assert_array_equal(seq.joints[2], naive_values(JOINTS_B, slice(0, 3)).astype(np.float32))


def test_hand_written_file_full_fields():
    seq = parse_skeleton_text(hand_file(), full=True)
    assert seq.joints.dtype == np.float64 and seq.joints.shape == (3, 25, 12)
    np.testing.assert_array_equal(seq.joints[0], naive_values(JOINTS_A, slice(None)))
    np.testing.assert_array_equal(seq.joints[2], naive_values(JOINTS_B, slice(None)))
    np.testing.assert_array_equal(seq.body_info, naive_values([INFO_A, INFO_A, INFO_B], slice(None)))
    assert seq.joints[0, :, 11].tolist().count(1.0) == 3  # the three inferred joints
    # xyz of the full read are the float32 read
    np.testing.assert_array_equal(seq.xyz.astype(np.float32), parse_skeleton_text(hand_file()).joints)


def test_reference_linewise_reader_agrees(tmp_path):
    path = tmp_path / "S001C001P001R001A001.skeleton"
    path.write_bytes(hand_file().encode())
    ours, ref = read_skeleton(str(path)), read_skeleton_linewise(str(path))
    assert ref.num_frames == ours.num_frames and ref.body_ids == ours.body_ids
    np.testing.assert_array_equal(ref.frame_index, ours.frame_index)
    np.testing.assert_array_equal(ref.joints, ours.joints)


def test_numbers_are_read_exactly_as_float_does():
    # Every x/y/z below goes through the bulk parser or its float() fallback; both must agree
    # bit for bit with float(), and the float32 view with numpy's own string -> float32 cast
    # (what the SGN scripts use).
    tricky = ["-0", "0", ".5", "5.", "+1.25", "-.25", "00012.5000", "1e-05", "-6.914383E-05", "3.4E+02",
              "-0.001262633", "123456789012345", "0.30000000000000004", "9007199254740993", "2.5e-320",
              "-0.2352857", "3.785547"]
    rng = np.random.default_rng(0)
    tricky += [f"{v:.7g}" for v in rng.normal(size=100) * 10.0 ** rng.integers(-5, 3, size=100)]
    tricky += [f"{v:.{int(d)}f}" for v, d in zip(rng.normal(size=50), rng.integers(0, 12, size=50), strict=True)]
    tricky += ["0"] * (-len(tricky) % 75)
    frames = [tricky[i:i + 75] for i in range(0, len(tricky), 75)]
    lines = [str(len(frames))]
    for k, vals in enumerate(frames):
        lines += ["1", f"{k} {INFO_A}", "25"]
        lines += [" ".join(vals[3 * j:3 * j + 3]) + " 1 2 3 4 0 0 0 0 2" for j in range(25)]
    text = "\n".join(lines)
    full = parse_skeleton_text(text, full=True)
    got = full.joints[..., :3].reshape(-1)
    expected = np.array([float(t) for t in tricky])
    assert got.tobytes() == expected.tobytes()  # also tells -0.0 from 0.0
    xyz = parse_skeleton_text(text).joints.reshape(-1)
    np.testing.assert_array_equal(xyz, np.array(tricky, dtype=np.float32))


def sample_sequence(rng: np.random.Generator, full: bool) -> SkeletonSequence:
    frame_index = np.array([0, 1, 1, 3, 4, 4], dtype=np.int32)  # frame 2 empty, frames 1 and 4 two bodies
    ids = ["72057594037931101", "72057594037931101", "72057594037931107", "5", "5", "72057594037931107"]
    # Values with 7 significant digits, like the SDK's: they survive the text round trip exactly.
    xyz = np.array([float(f"{v:.7g}") for v in rng.normal(size=6 * 25 * 3)]).reshape(6, 25, 3)
    if not full:
        return SkeletonSequence(5, frame_index, ids, xyz.astype(np.float32))
    rest = np.array([float(f"{v:.7g}") for v in rng.normal(size=6 * 25 * 8) * 300]).reshape(6, 25, 8)
    state = rng.integers(0, 3, size=(6, 25, 1)).astype(np.float64)
    info = np.array([float(f"{v:.7g}") for v in rng.normal(size=6 * 9)]).reshape(6, 9)
    return SkeletonSequence(5, frame_index, ids, np.concatenate([xyz, rest, state], axis=2), info)


@pytest.mark.parametrize("full", [False, True])
def test_writer_reader_round_trip(tmp_path, full):
    seq = sample_sequence(np.random.default_rng(1), full)
    path = tmp_path / "S002C003P004R001A005.skeleton"
    write_skeleton(str(path), seq)
    assert path.read_bytes().count(b"\r\n") == path.read_bytes().count(b"\n")  # CRLF, like the SDK
    back = read_skeleton(str(path), full=full)
    assert back.num_frames == 5 and back.body_ids == seq.body_ids
    np.testing.assert_array_equal(back.frame_index, seq.frame_index)
    np.testing.assert_array_equal(back.joints, seq.joints)
    if full:
        np.testing.assert_array_equal(back.body_info, seq.body_info)
    else:
        assert back.body_info is None


@pytest.mark.parametrize("ids", [
    ["123", "1234", "12", "123"],  # prefixes of one another
    ["72057594037928900", "72057594037928901", "72057594037928900", "-7"],  # differ in the 17th byte
    ["1" * 23, "1" * 22 + "2", "1" * 23, "9"],  # 23 bytes: the widest compared word-wise
    ["7" * 30, "7" * 29, "7" * 30, "5"],  # wider: one slice per row
    [str(k) for k in range(12)],  # more distinct IDs than compared word-wise
])
def test_body_ids_are_kept_as_written(ids):
    rng = np.random.default_rng(8)
    frame_index = np.repeat(np.arange(len(ids) // 2 + 1), 2)[:len(ids)].astype(np.int32)
    xyz = np.round(rng.normal(size=(len(ids), 25, 3)), 4).astype(np.float32)
    seq = SkeletonSequence(int(frame_index[-1]) + 1, frame_index, ids, xyz)
    text = format_skeleton(seq).replace(f"{ids[-1]} 0 1", f"{ids[-1]}\t \t0 1")  # other spacing after one ID
    assert parse_skeleton_text(text).body_ids == ids


def test_line_endings_and_spaces_do_not_matter():
    ref = parse_skeleton_text(hand_file("\n"), full=True)
    variants = [
        hand_file("\r\n"),
        hand_file("  \r\n"),  # trailing spaces
        hand_file(" \t\n") + "\n\n",  # tabs, blank lines at the end
        "\n" + hand_file("\n").replace(" ", "   "),  # leading blank line, runs of spaces
        hand_file("\n").rstrip("\n"),  # no final newline
        hand_file("\n").replace("\n25\n", "\n\n25\n  \n").replace("\n0\n", "\n   0\n"),  # blank, indented
    ]
    for text in variants:
        seq = parse_skeleton_text(text, full=True)
        assert seq.body_ids == ref.body_ids
        np.testing.assert_array_equal(seq.joints, ref.joints)
        np.testing.assert_array_equal(seq.body_info, ref.body_info)


def lines_of(text: str) -> list[str]:
    return text.split("\r\n")[:-1]


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: "", "empty file"),
        (lambda: " \r\n\r\n", "empty file"),
        (lambda: "\r\n".join(lines_of(hand_file())[:40]), "truncated: the file ends inside frame 2 of 3"),
        (lambda: "\r\n".join(lines_of(hand_file())[:20]), "truncated: the file ends inside frame 0 of 3"),
        (lambda: hand_file().replace("0.2254435 0.4512332", "0.2254435 O.4512332", 1),
         "line 6: non-numeric value 'O.4512332'"),
        (lambda: hand_file().replace("0.2462539 0.8640667", "0.2462539 nan", 1),
         "line 8: value 'nan' is not a finite float32 number"),
        # every field is a number, not only x, y, z (issue 12)
        (lambda: hand_file().replace("0.2757616 -0.1308854", "nanx -0.1308854", 1), "line 5: non-numeric value 'nanx'"),
        (lambda: hand_file().replace("277.0931 195.2224 1021.435", "277.0931 195.2224 garbage", 1),
         "line 5: non-numeric value 'garbage'"),
        (lambda: hand_file().replace("0.6094118 -0.17121", "0.6094118 -0.17.121", 1),
         "line 6: non-numeric value '-0.17.121'"),
        (lambda: hand_file().replace("0.6094118 -0.17121", "0.6094118 -", 1), "line 6: non-numeric value '-'"),
        (lambda: hand_file().replace("0.6094118 -0.17121", "0.6094118 4-2", 1), "line 6: non-numeric value '4-2'"),
        (lambda: hand_file().replace(INFO_A, "0 1 0 1 0 0 inf -0.1184127 2", 1),
         "line 3: value 'inf' is not a finite float32 number"),
        (lambda: hand_file().replace(INFO_A, "0 1 0 1 0 0 0.03418261 -0.1184127 tracked", 1),
         "line 3: non-numeric value 'tracked'"),
        (lambda: hand_file().replace(f"{ID_A} ", "body-A ", 1), "line 3: non-numeric value 'body-A'"),
        # finite in float64, not in float32
        (lambda: hand_file().replace("0.218119 0.1734934", "1e300 0.1734934", 1),
         "line 5: value '1e300' is not a finite float32 number"),
        (lambda: hand_file().replace("0.2757616 -0.1308854", "0.2757616 -3.5e38", 1),
         "line 5: value '-3.5e38' is not a finite float32 number"),
        (lambda: hand_file().replace("0.2757616 -0.1308854", "0.2757616 " + "9" * 40, 1),
         "line 5: value '" + "9" * 40 + "' is not a finite float32 number"),
        (lambda: hand_file().replace("\r\n25\r\n", "\r\n24\r\n", 1),
         "line 4: frame 0: body has 24 joints, expected 25"),
        (lambda: "\r\n".join(lines_of(hand_file())[:10] + lines_of(hand_file())[11:]),
         "line 29: frame 0: joint line has 1 values, expected 12"),
        (lambda: hand_file().replace(" 0 0 0 0 2\r\n", " 0 0 0 2\r\n", 1),
         "line 8: frame 0: joint line has 11 values, expected 12"),
        (lambda: hand_file() + "1\r\n", "line 86: 1 unexpected trailing line(s) after the last frame"),
        (lambda: hand_file() + "0 0 0\r\n", "line 86: 1 unexpected trailing line(s)"),
        (lambda: "3.5\r\n" + hand_file().split("\r\n", 1)[1], "line 1: frame count is not an integer: '3.5'"),
        (lambda: hand_file().replace("\r\n0\r\n", "\r\n-1\r\n", 1), "line 30: frame 1: body count"),
        (lambda: hand_file().replace("3\r\n", "4\r\n", 1), "truncated: the file ends inside frame 3 of 4"),
        (lambda: hand_file().replace("0.218119", "0.218119é", 1), "not a text file"),
    ],
)
def test_malformed_files_raise_with_a_useful_message(make, message):
    with pytest.raises(SkeletonFormatError) as err:
        parse_skeleton_text(make(), source="S001C001P001R001A001.skeleton")
    assert message in str(err.value)
    assert str(err.value).startswith("S001C001P001R001A001.skeleton: ")


@pytest.mark.parametrize("prefix, extra", [("\r\n", 1), ("\r\n \r\n\r\n", 3)])
def test_error_line_numbers_count_blank_lines(prefix, extra):
    # Leading blank lines shift every line number; a blank line inside (second case: one with a
    # space) takes the general line finder. Both must name the true line.
    text = prefix + hand_file().replace("0.2254435 0.4512332", "0.2254435 O.4512332", 1)
    with pytest.raises(SkeletonFormatError, match=f"line {6 + extra}: non-numeric value 'O.4512332'"):
        parse_skeleton_text(text)
    text = prefix + hand_file().replace("\r\n0\r\n", "\r\n\r\n-1\r\n", 1)
    with pytest.raises(SkeletonFormatError, match=f"line {31 + extra}: frame 1: body count is negative"):
        parse_skeleton_text(text)


def with_line(number: int, text: str) -> str:
    """hand_file() with its 1-based line `number` replaced by `text`."""
    lines = lines_of(hand_file())
    lines[number - 1] = text
    return "\r\n".join(lines) + "\r\n"


@pytest.mark.parametrize(
    "text, message",
    [
        # Frames are found from the lines' value counts first; a body count that disagrees with the
        # lines after it must still fail where a line-by-line walk of the counts fails.
        (with_line(2, "2"), "line 30: frame 0: body-info line has 1 values, expected 10"),  # 1 body there
        (with_line(2, "0"), "line 3: frame 1: body count has 10 values, expected 1"),
        (with_line(30, "1"), "line 31: frame 1: body-info line has 1 values, expected 10"),  # no body there
        (with_line(31, "1"), "line 59: 27 unexpected trailing line(s) after the last frame"),  # 2 bodies there
        (with_line(31, "3"), "truncated: the file ends inside frame 2 of 3"),
        (with_line(1, "2"), "line 31: 55 unexpected trailing line(s) after the last frame"),
    ],
)
def test_body_counts_that_disagree_with_the_lines_name_the_line(text, message):
    with pytest.raises(SkeletonFormatError) as err:
        parse_skeleton_text(text, source="S001C001P001R001A001.skeleton")
    assert str(err.value) == f"S001C001P001R001A001.skeleton: {message}"


def test_counts_in_other_integer_spellings():
    ref = parse_skeleton_text(hand_file(), full=True)
    text = with_line(1, "+03").replace("\r\n25\r\n", "\r\n025\r\n", 1).replace("\r\n25\r\n", "\r\n+25\r\n", 1)
    lines = lines_of(text)
    lines[1], lines[30] = "01", "+2"
    seq = parse_skeleton_text("\r\n".join(lines), full=True)
    assert seq.num_frames == 3 and seq.body_ids == ref.body_ids
    np.testing.assert_array_equal(seq.frame_index, ref.frame_index)
    np.testing.assert_array_equal(seq.joints, ref.joints)


@pytest.mark.parametrize("count", ["300000", "+300000", "300_000"])
def test_a_huge_body_count_in_a_short_file_fails_without_the_memory_it_promises(count):
    # A body count is a promise of count x 27 lines; a file that ends first must fail as truncated
    # at the cost of the lines it has (before the fix: ~300 MB here, all the memory for 10^12).
    parse_skeleton_text(hand_file())  # numba imported and the scan loaded first: not counted
    tracemalloc.start()
    try:
        with pytest.raises(SkeletonFormatError, match=r"x.skeleton: truncated: the file ends inside frame 1 of 2"):
            parse_skeleton_text(f"2\r\n0\r\n{count}\r\n{ID_A} {INFO_A}\r\n25\r\n", source="x.skeleton")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 10_000_000, peak


@pytest.mark.parametrize("after", ["\x00", "\x01", "\x1c", "\x1f", "\x0b\x00\t"])
def test_body_id_followed_by_control_separators_is_just_the_id(after):
    # Bytes 0x00-0x20 separate values; none of them belongs to the ID before them.
    text = hand_file().replace(f"{ID_B} ", f"{ID_B}{after} ", 1)
    for full in (False, True):
        assert parse_skeleton_text(text, full=full).body_ids == [ID_A, ID_A, ID_B]


def test_values_far_apart_are_found():
    # Where the next values start is looked up in a window of the next ~56 bytes; values further
    # apart (long runs of spaces, long body IDs) are found another way, with the same result.
    gap = " " * 100
    long_id = "7" * 70
    spread = []
    for line in lines_of(hand_file().replace(ID_B, long_id)):
        values = line.split(" ")
        if len(values) == 12:  # joint line: x, y and z far apart
            line = gap.join(values[:3]) + " " + " ".join(values[3:])
        elif len(values) == 10:  # body-info line: the ID far from the rest
            line = values[0] + gap + " ".join(values[1:])
        spread.append(line)
    for full in (False, True):
        ref = parse_skeleton_text(hand_file().replace(ID_B, long_id), full=full)
        seq = parse_skeleton_text("\r\n".join(spread), full=full)
        assert seq.body_ids == ref.body_ids == [ID_A, ID_A, long_id]
        np.testing.assert_array_equal(seq.joints, ref.joints)


@pytest.mark.parametrize("full", [False, True])
def test_long_sequence_round_trip(tmp_path, full):
    # Enough joints that the numbers are parsed in several chunks.
    rng = np.random.default_rng(2)
    frame_index = np.repeat(np.arange(300, dtype=np.int32), rng.integers(0, 3, size=300))
    n = len(frame_index)
    xyz = np.array([float(f"{v:.7g}") for v in rng.normal(size=n * 25 * 3)]).reshape(n, 25, 3)
    ids = [str(72057594037931101 + int(f) % 3) for f in frame_index]
    if full:
        rest = np.array([float(f"{v:.7g}") for v in rng.normal(size=n * 25 * 8) * 300]).reshape(n, 25, 8)
        state = rng.integers(0, 3, size=(n, 25, 1)).astype(np.float64)
        info = np.array([float(f"{v:.7g}") for v in rng.normal(size=n * 9)]).reshape(n, 9)
        seq = SkeletonSequence(300, frame_index, ids, np.concatenate([xyz, rest, state], axis=2), info)
    else:
        seq = SkeletonSequence(300, frame_index, ids, xyz.astype(np.float32))
    path = tmp_path / "S001C001P001R001A001.skeleton"
    write_skeleton(str(path), seq)
    back = read_skeleton(str(path), full=full)
    assert back.body_ids == ids
    np.testing.assert_array_equal(back.frame_index, frame_index)
    np.testing.assert_array_equal(back.joints, seq.joints)
    if full:
        np.testing.assert_array_equal(back.body_info, info)


def test_non_numeric_value_in_other_fields_is_caught_with_or_without_all_fields():
    text = hand_file().replace(" 0.2757616 ", " 0,2757616 ", 1)
    for full in (False, True):  # xyz-only reads check the orientation fields too (issue 12)
        with pytest.raises(SkeletonFormatError, match="line 5: non-numeric value '0,2757616'"):
            parse_skeleton_text(text, full=full)


def test_plain_decimal_scan_agrees_with_float():
    """Whatever the whole-file scan vouches for converts with float() and is finite in float32."""
    rng = np.random.default_rng(0)
    alphabet = list("0123456789.-+e")
    for _ in range(3000):
        tok = "".join(rng.choice(alphabet, size=rng.integers(1, 6)))
        text = hand_file().replace(" 0.2757616 ", f" {tok} ", 1)
        try:
            float(tok)
            good = abs(float(tok)) <= 3.4028234663852886e38
        except ValueError:
            good = False
        if good:
            parse_skeleton_text(text)
        else:
            with pytest.raises(SkeletonFormatError, match="line 5"):
                parse_skeleton_text(text)


def test_read_skeleton_names_the_file(tmp_path):
    path = tmp_path / "S001C001P001R001A001.skeleton"
    path.write_bytes(b"2\r\n0\r\n")
    with pytest.raises(SkeletonFormatError, match=r"^S001C001P001R001A001\.skeleton: truncated"):
        read_skeleton(str(path))


def test_zero_frame_file_is_a_valid_empty_sequence():
    seq = parse_skeleton_text("0\r\n")
    assert seq.num_frames == 0 and seq.joints.shape == (0, 25, 3) and seq.body_ids == []


@pytest.mark.parametrize(
    "name, fields",
    [
        ("S001C002P003R002A013.skeleton", (1, 2, 3, 2, 13)),
        ("/data/nturgb+d_skeletons/S017C003P020R002A060.skeleton", (17, 3, 20, 2, 60)),
        ("S032C001P106R001A120", (32, 1, 106, 1, 120)),
    ],
)
def test_parse_sample_name(name, fields):
    n = parse_sample_name(name)
    assert (n.setup, n.camera, n.subject, n.replication, n.action) == fields
    assert n.label == fields[-1] - 1
    assert n.sample_id == name.rsplit("/", 1)[-1].split(".")[0]


@pytest.mark.parametrize(
    "name",
    ["S01C002P003R002A013.skeleton", "S001C002P003R002A013X.skeleton", "s001c002p003r002a013.skeleton",
     "S001C002P003R002A000.skeleton", "video.skeleton", ""],
)
def test_parse_sample_name_rejects_bad_names(name):
    with pytest.raises(SkeletonFormatError, match="SsssCcccPpppRrrrAaaa|zero field"):
        parse_sample_name(name)

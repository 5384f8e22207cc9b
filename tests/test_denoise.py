"""Body selection, rule by rule, on small constructed `.skeleton` files (written, read back, processed).

Each case asserts the exact [T, 2, 25, 3] array the rule gives, built independently here from the
bodies' own coordinates, in both modes where `standard` (the SGN / CTR-GCN scripts) and `clean`
differ.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from data_pipeline.denoise import Thresholds, _motion, denoise
from data_pipeline.process import PreprocessConfig, SampleError, process_file, process_sequence
from data_pipeline.skeleton_format import SkeletonSequence, parse_sample_name, read_skeleton, write_skeleton

NAME = "S001C001P001R001A050.skeleton"
MODES = ("standard", "clean")

# A standing skeleton: x spread 0.4, y spread 1.6 (a valid frame: 0.4 <= 0.8 * 1.6).
_Y = np.linspace(-0.8, 0.8, 25)
_X = 0.2 * np.sin(np.arange(25))


def person(n: int, x0: float = 0.0, sway: float = 0.01, seed: int = 0) -> np.ndarray:
    """[n, 25, 3] float32 with 4 decimals (exact through the 7-digit text format)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)[:, None]
    x = x0 + _X[None] + sway * np.sin(t / 3.0) + rng.uniform(-0.01, 0.01, (n, 25))
    y = _Y[None] + 0.1 * sway * np.cos(t / 5.0) + rng.uniform(-0.01, 0.01, (n, 25))
    z = 3.0 + 0.5 * sway * np.sin(t / 7.0) + rng.uniform(-0.01, 0.01, (n, 25))
    return np.round(np.stack([x, y, z], axis=-1), 4).astype(np.float32)


def wide(n: int, seed: int = 0) -> np.ndarray:
    """A non-person: x spread 2.0 against y spread 0.4 (an invalid frame)."""
    b = person(n, seed=seed)
    return np.round(np.stack([b[..., 1] * 1.25, b[..., 0], b[..., 2]], axis=-1), 4).astype(np.float32)


def make_file(tmp_path, num_frames: int, bodies: list[tuple[str, list[int], np.ndarray]], name: str = NAME) -> str:
    """Write a file whose frame f holds, in list order, every body whose frame list contains f."""
    frame_index, ids, rows = [], [], []
    for f in range(num_frames):
        for body_id, frames, joints in bodies:
            for k, g in enumerate(frames):
                if g == f:
                    frame_index.append(f)
                    ids.append(body_id)
                    rows.append(joints[k])
    joints = np.stack(rows) if rows else np.zeros((0, 25, 3), np.float32)
    seq = SkeletonSequence(num_frames, np.asarray(frame_index, np.int32), ids, joints)
    path = tmp_path / name
    write_skeleton(str(path), seq)
    back = read_skeleton(str(path))
    np.testing.assert_array_equal(back.joints, joints)  # the text round trip is exact
    return str(path)


def run(path: str, mode: str, **kw):
    return process_file(path, PreprocessConfig(denoise=mode, **kw))


def expected(slots: np.ndarray, present: np.ndarray) -> np.ndarray:
    """The standard translation applied to raw actor slots [T, 2, 25, 3] (float32 arithmetic)."""
    first = int(np.flatnonzero(present[:, 0])[0])
    out = slots - slots[first, 0, 1]
    out[~present] = 0
    return out


def layout(T: int, *placements: tuple[int, list[int], np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Raw slots from (slot, output frames, rows) placements, later ones overwriting."""
    slots = np.zeros((T, 2, 25, 3), np.float32)
    present = np.zeros((T, 2), bool)
    for slot, frames, rows in placements:
        slots[frames, slot] = rows
        present[frames, slot] = True
    return slots, present


def statuses(info: dict) -> dict:
    return {b["id"]: (b["status"], b.get("reason")) for b in info["bodies"]}


@pytest.mark.parametrize("mode", MODES)
def test_empty_frame_is_dropped_first(tmp_path, mode):
    a = person(4, seed=1)
    path = make_file(tmp_path, 5, [("101", [0, 1, 3, 4], a)])
    s = run(path, mode)
    np.testing.assert_array_equal(s.data, expected(*layout(4, (0, [0, 1, 2, 3], a))))
    assert s.num_bodies == 1 and s.info["empty_frames_dropped"] == 1 and s.info["frames_in_file"] == 5
    assert s.data.dtype == np.float32 and s.data.shape == (4, 2, 25, 3)
    np.testing.assert_array_equal(s.data[0, 0, 1], np.zeros(3, np.float32))


def test_vanishing_body(tmp_path):
    # Actor A (more motion) is missing in frames 15-19 while B stays: standard closes A's gap
    # (its rows run contiguously from frame 0, its last 5 frames empty); clean keeps the gap.
    a = person(35, sway=0.2, seed=1)
    b = person(40, x0=1.0, seed=2)
    a_frames = [f for f in range(40) if not 15 <= f <= 19]
    path = make_file(tmp_path, 40, [("101", a_frames, a), ("102", list(range(40)), b)])
    std, clean = run(path, "standard"), run(path, "clean")
    np.testing.assert_array_equal(std.data, expected(*layout(40, (0, list(range(35)), a), (1, list(range(40)), b))))
    np.testing.assert_array_equal(clean.data, expected(*layout(40, (0, a_frames, a), (1, list(range(40)), b))))
    assert std.num_bodies == clean.num_bodies == 2
    assert np.all(clean.data[15:20, 0] == 0) and np.all(std.data[35:, 0] == 0)


@pytest.mark.parametrize("mode", MODES)
def test_short_ghost_body_is_removed_by_length(tmp_path, mode):
    a = person(30, sway=0.05, seed=1)
    ghost = person(11, x0=0.5, sway=0.5, seed=3)  # 11 frames: the largest length still removed
    kept = person(12, x0=-0.5, sway=0.001, seed=4)  # 12 frames: kept
    path = make_file(tmp_path, 30, [("101", list(range(30)), a), ("202", list(range(3, 14)), ghost),
                                    ("303", list(range(15, 27)), kept)])
    s = run(path, mode)
    # 303 overlaps A, so it becomes actor 2 at its own frames.
    want = expected(*layout(30, (0, list(range(30)), a), (1, list(range(15, 27)), kept)))
    np.testing.assert_array_equal(s.data, want)
    st = statuses(s.info)
    assert st["202"] == ("dropped", "length") and st["101"] == ("actor1", None) and st["303"] == ("actor2", None)


@pytest.mark.parametrize("mode", MODES)
def test_ghost_only_second_body_leaves_one_actor(tmp_path, mode):
    a = person(20, seed=1)
    ghost = person(5, x0=0.5, seed=3)
    path = make_file(tmp_path, 20, [("202", list(range(5)), ghost), ("101", list(range(20)), a)])
    s = run(path, mode)
    np.testing.assert_array_equal(s.data, expected(*layout(20, (0, list(range(20)), a))))
    assert s.num_bodies == 1 and statuses(s.info)["202"] == ("dropped", "length")


@pytest.mark.parametrize("mode", MODES)
def test_wide_non_person_body_is_removed_by_spread(tmp_path, mode):
    a = person(30, seed=1)
    w = wide(30, seed=5)  # listed first: the spread loop meets it first
    path = make_file(tmp_path, 30, [("900", list(range(30)), w), ("101", list(range(30)), a)])
    s = run(path, mode)
    np.testing.assert_array_equal(s.data, expected(*layout(30, (0, list(range(30)), a))))
    assert s.num_bodies == 1
    rec = {b["id"]: b for b in s.info["bodies"]}
    assert rec["900"]["status"] == "dropped" and rec["900"]["reason"] == "spread"
    assert rec["900"]["invalid_spread_share"] == 1.0


@pytest.mark.parametrize("mode", MODES)
def test_partly_wide_body_gets_motion_of_its_valid_frames(tmp_path, mode):
    # P has the larger motion overall only because of its 8 wide (invalid) frames: 8/30 < 0.69754, so
    # it stays, its motion becomes that of its 22 valid frames, and A outranks it.
    a = person(30, sway=0.05, seed=1)
    p = person(30, x0=1.0, sway=0.001, seed=2)
    p[:8] = np.round(wide(8, seed=6).astype(np.float64) + 2.0, 4)
    path = make_file(tmp_path, 30, [("102", list(range(30)), p), ("101", list(range(30)), a)])
    s = run(path, mode)
    rec = {b["id"]: b for b in s.info["bodies"]}
    assert rec["102"]["invalid_spread_share"] == pytest.approx(8 / 30)
    flat = p.reshape(-1, 3)
    assert np.sum(np.var(flat, axis=0)) > rec["101"]["motion"] > rec["102"]["motion"]  # ranks swapped
    np.testing.assert_array_equal(
        s.data, expected(*layout(30, (0, list(range(30)), a), (1, list(range(30)), p))))


@pytest.mark.parametrize("mode", MODES)
def test_three_bodies_compete_for_two_slots(tmp_path, mode):
    a = person(40, sway=0.3, seed=1)
    b = person(40, x0=1.0, sway=0.1, seed=2)
    c = person(26, x0=-1.0, sway=0.01, seed=3)
    path = make_file(tmp_path, 40, [("3", list(range(26)), c), ("1", list(range(40)), a),
                                    ("2", list(range(40)), b)])
    s = run(path, mode)
    np.testing.assert_array_equal(s.data, expected(*layout(40, (0, list(range(40)), a), (1, list(range(40)), b))))
    assert statuses(s.info) == {"1": ("actor1", None), "2": ("actor2", None), "3": ("dropped", "no slot")}
    assert [b["rank"] for b in s.info["bodies"]] == [2, 0, 1]


def test_actor2_span_starts_at_frame_0_in_standard_only(tmp_path):
    # A everywhere; B (rank 2) in frames 20-39; C (rank 3) in frames 0-15. C overlaps actor 1, so it
    # is tested against actor 2: the scripts' span [0, 0] grown by B is [0, 39] -> C dropped; clean's
    # span is B's own [20, 39] -> C goes to actor 2.
    a = person(40, sway=0.3, seed=1)
    b = person(20, x0=1.0, sway=0.1, seed=2)
    c = person(16, x0=-1.0, sway=0.01, seed=3)
    path = make_file(tmp_path, 40, [("1", list(range(40)), a), ("2", list(range(20, 40)), b),
                                    ("3", list(range(16)), c)])
    std, clean = run(path, "standard"), run(path, "clean")
    np.testing.assert_array_equal(
        std.data, expected(*layout(40, (0, list(range(40)), a), (1, list(range(20, 40)), b))))
    np.testing.assert_array_equal(
        clean.data, expected(*layout(40, (0, list(range(40)), a), (1, list(range(20, 40)), b),
                                     (1, list(range(16)), c))))
    assert statuses(std.info)["3"] == ("dropped", "no slot")
    assert statuses(clean.info)["3"] == ("actor2", None)


def test_body_touching_actor1_at_one_frame(tmp_path):
    # A in frames 0-20, B (less motion) in frames 20-39: they share frame 20 only, so B joins actor
    # 1. The scripts overwrite A's frame 20 with B's; clean keeps A's and fills 21-39 only.
    a = person(21, sway=0.3, seed=1)
    b = person(20, x0=0.3, sway=0.01, seed=2)
    path = make_file(tmp_path, 40, [("1", list(range(21)), a), ("2", list(range(20, 40)), b)])
    std, clean = run(path, "standard"), run(path, "clean")
    np.testing.assert_array_equal(
        std.data, expected(*layout(40, (0, list(range(21)), a), (0, list(range(20, 40)), b))))
    np.testing.assert_array_equal(
        clean.data, expected(*layout(40, (0, list(range(20, 40)), b), (0, list(range(21)), a))))
    assert std.num_bodies == clean.num_bodies == 1
    assert std.info["frames_overwritten"] == 1
    assert {b["id"]: b for b in clean.info["bodies"]}["2"]["frames_not_written"] == 1


def test_disjoint_bodies_share_actor1_and_unfilled_frames_are_removed(tmp_path):
    # A in 0-14, B in 25-39 (10 frames of only a ghost between): B joins actor 1; the ghost-only
    # frames 15-24 hold no actor and are removed (two or more bodies in the file).
    a = person(15, sway=0.3, seed=1)
    b = person(15, x0=0.3, sway=0.01, seed=2)
    g = person(10, x0=2.0, seed=3)
    path = make_file(tmp_path, 40, [("1", list(range(15)), a), ("9", list(range(15, 25)), g),
                                    ("2", list(range(25, 40)), b)])
    for mode in MODES:
        s = run(path, mode)
        np.testing.assert_array_equal(s.data, expected(*layout(30, (0, list(range(15)), a),
                                                               (0, list(range(15, 30)), b))))
        assert s.info["frames_removed_no_actor"] == 10 and s.info["num_frames"] == 30


@pytest.mark.parametrize("mode", MODES)
def test_motion_ranking_picks_the_higher_variance_body_as_actor1(tmp_path, mode):
    calm = person(30, x0=1.0, sway=0.001, seed=1)
    busy = person(30, x0=-1.0, sway=0.4, seed=2)
    path = make_file(tmp_path, 30, [("7", list(range(30)), calm), ("8", list(range(30)), busy)])
    s = run(path, mode)
    np.testing.assert_array_equal(s.data, expected(*layout(30, (0, list(range(30)), busy), (1, list(range(30)), calm))))
    rec = {b["id"]: b for b in s.info["bodies"]}
    assert rec["8"]["motion"] > rec["7"]["motion"] and rec["8"]["rank"] == 0
    assert rec["8"]["motion"] == pytest.approx(float(np.sum(np.var(busy.reshape(-1, 3).astype(np.float64), axis=0))),
                                               rel=1e-5)


@pytest.mark.parametrize("mode", MODES)
def test_all_empty_file_is_an_error(tmp_path, mode):
    path = make_file(tmp_path, 3, [])
    with pytest.raises(SampleError, match=r"^S001C001P001R001A050\.skeleton: all 3 frames are empty"):
        run(path, mode)
    zero = make_file(tmp_path, 0, [], name="S001C001P001R001A051.skeleton")
    with pytest.raises(SampleError, match="all 0 frames are empty"):
        run(zero, mode)


@pytest.mark.parametrize("mode", MODES)
def test_every_body_removed_is_an_error(tmp_path, mode):
    path = make_file(tmp_path, 20, [("1", list(range(8)), person(8)), ("2", list(range(10, 20)), person(10))])
    with pytest.raises(SampleError, match="no body kept: all 2 bodies are seen in 11 frames or fewer"):
        run(path, mode)


def test_repeated_body_id_within_a_frame(tmp_path):
    # One body listed twice in frame 0: its 13 rows outrun the 12 frames in the scripts' layout
    # (their slice assignment fails); clean keeps the first row of the frame.
    a = person(13, sway=0.2, seed=1)
    other = person(12, x0=1.0, sway=0.0, seed=2)
    path = make_file(tmp_path, 12, [("1", [0] + list(range(12)), a), ("2", list(range(12)), other)])
    with pytest.raises(SampleError, match="run past the last frame"):
        run(path, "standard")
    s = run(path, "clean")
    assert s.info["duplicate_rows_dropped"] == 1
    rows = np.concatenate([a[:1], a[2:]])  # first row of frame 0, then frames 1-11
    want = expected(*layout(12, (0, list(range(12)), rows), (1, list(range(12)), other)))
    np.testing.assert_array_equal(s.data, want)


def test_modes_agree_on_a_clean_sequence(tmp_path):
    # Two overlapping people, a ghost and a wide body: no defect applies, so identical arrays.
    a = person(50, sway=0.2, seed=1)
    b = person(45, x0=1.0, sway=0.05, seed=2)
    path = make_file(tmp_path, 52, [("1", list(range(50)), a), ("2", list(range(5, 50)), b),
                                    ("3", list(range(40, 46)), person(6, x0=-1.0, seed=3)),
                                    ("4", list(range(0, 52)), wide(52, seed=4))])
    std, clean = run(path, "standard"), run(path, "clean")
    np.testing.assert_array_equal(std.data, clean.data)
    assert std.num_bodies == clean.num_bodies == 2
    assert statuses(std.info) == statuses(clean.info)
    assert std.info["mode"] == "standard" and clean.info["mode"] == "clean"


def test_info_is_json_and_records_thresholds(tmp_path):
    path = make_file(tmp_path, 30, [("1", list(range(30)), person(30, seed=1)),
                                    ("2", list(range(10)), person(10, seed=2))])
    s = run(path, "clean", min_body_frames=9)
    info = json.loads(json.dumps(s.info))
    assert info["thresholds"] == {"min_body_frames": 9, "spread_ratio": 0.8, "noise_spread_threshold": 0.69754}
    assert statuses(info) == {"1": ("actor1", None), "2": ("actor2", None)}  # 10 frames > 9: kept


def test_configurable_thresholds_change_the_outcome():
    a = person(30, seed=1)
    w = wide(30, seed=5)
    seq = SkeletonSequence(30, np.repeat(np.arange(30, dtype=np.int32), 2), ["1", "2"] * 30,
                           np.stack([a, w], axis=1).reshape(60, 25, 3))
    assert denoise(seq).num_actors == 1  # the wide body fails the default spread test
    assert denoise(seq, th=Thresholds(spread_ratio=10.0)).num_actors == 2
    s = process_sequence(seq, parse_sample_name(NAME), PreprocessConfig(spread_ratio=10.0))
    assert s.num_bodies == 2


@pytest.mark.parametrize(
    "field, kw",
    [("denoise", {"denoise": "fancy"}), ("min_body_frames", {"min_body_frames": -1}),
     ("spread_ratio", {"spread_ratio": 0.0}), ("noise_spread_threshold", {"noise_spread_threshold": 1.5})],
)
def test_bad_config_names_the_field(field, kw):
    from skelmae.config.loader import ConfigError

    with pytest.raises(ConfigError) as err:
        PreprocessConfig(**kw).validate()
    assert err.value.field == field


def test_motion_is_their_float32_expression_bit_for_bit():
    # _motion replaces np.sum(np.var(joints.reshape(-1, 3), axis=0)) for speed; ranks and ties rest on the
    # exact float32 bits, so any reordering of the sums would show here.
    rng = np.random.default_rng(7)
    for n in [1, 2, 3, 7, 8, 9, 11, 12, 50, 64, 65, 137, 300]:
        for scale in (1e-3, 0.7, 40.0):
            joints = (rng.normal(size=(n, 25, 3)) * scale + rng.normal(size=3) * 3).astype(np.float32)
            expected = np.sum(np.var(joints.reshape(-1, 3), axis=0))
            got = _motion(joints)
            assert got.dtype == np.float32 and got.tobytes() == expected.tobytes(), (n, scale)
    view = rng.normal(size=(40, 25, 3)).astype(np.float32)[::2]  # a non-contiguous selection, as joints[valid]
    assert _motion(view).tobytes() == np.sum(np.var(view.reshape(-1, 3), axis=0)).tobytes()

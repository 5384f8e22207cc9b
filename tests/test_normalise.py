"""Translation to the spine and optional view alignment."""

from __future__ import annotations

import numpy as np
import pytest

from data_pipeline.normalise import (
    SHOULDER_LEFT,
    SHOULDER_RIGHT,
    SPINE_BASE,
    SPINE_MID,
    SPINE_SHOULDER,
    present_mask,
    rotate,
    translate_to_spine,
    view_rotation,
)
from data_pipeline.process import PreprocessConfig, SampleError, process_file
from data_pipeline.skeleton_format import SkeletonSequence, write_skeleton


def canonical_body(rng: np.random.Generator) -> np.ndarray:
    """[25, 3] skeleton with its spine exactly along +y and its shoulders exactly along +x."""
    body = rng.normal(size=(25, 3)) * 0.2
    body[SPINE_BASE] = [0.0, 0.0, 0.0]
    body[SPINE_SHOULDER] = [0.0, 0.5, 0.0]
    body[SHOULDER_LEFT] = [-0.2, 0.45, 0.0]
    body[SHOULDER_RIGHT] = [0.2, 0.45, 0.0]
    return body


def random_rotation(rng: np.random.Generator) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


def test_translation_puts_actor1_spine_at_origin_and_keeps_zeros():
    rng = np.random.default_rng(0)
    data = rng.normal(size=(6, 2, 25, 3)).astype(np.float32) + np.float32(3.0)
    data[0, 0] = 0  # actor 1 absent in frame 0: the origin comes from frame 1
    data[[2, 4], 1] = 0  # actor 2 absent in frames 2 and 4
    out, origin = translate_to_spine(data)
    np.testing.assert_array_equal(origin, data[1, 0, SPINE_MID])
    np.testing.assert_array_equal(out[1, 0, SPINE_MID], np.zeros(3, np.float32))
    np.testing.assert_array_equal(out[0, 0], 0)
    np.testing.assert_array_equal(out[[2, 4], 1], 0)
    present = present_mask(data)
    np.testing.assert_array_equal(out[present], (data - origin)[present])  # plain float32 subtraction
    assert out.dtype == np.float32


def test_explicit_presence_mask_wins_over_zero_test():
    data = np.ones((3, 2, 25, 3), np.float32)
    present = np.array([[True, False], [True, True], [False, True]])
    out, _ = translate_to_spine(data, present)
    np.testing.assert_array_equal(out[~present], 0)
    np.testing.assert_array_equal(out[present], 0)  # all ones minus a ones origin


def test_view_alignment_makes_spine_vertical_and_shoulders_along_x():
    rng = np.random.default_rng(1)
    body = canonical_body(rng)
    partner = canonical_body(rng) + [1.0, 0.0, 0.5]
    r0 = random_rotation(rng)
    shift = np.array([0.4, -0.2, 3.1])
    data = np.zeros((4, 2, 25, 3), np.float32)
    for t in range(4):
        data[t, 0] = (body + [0.01 * t, 0, 0]) @ r0.T + shift  # the camera saw a rotated scene
        data[t, 1] = partner @ r0.T + shift
    data[3, 1] = 0  # partner absent in frame 3
    moved, _ = translate_to_spine(data)
    rot = view_rotation(moved)
    out = rotate(moved, rot)
    spine = out[0, 0, SPINE_SHOULDER] - out[0, 0, SPINE_BASE]
    shoulders = out[0, 0, SHOULDER_RIGHT] - out[0, 0, SHOULDER_LEFT]
    np.testing.assert_allclose(spine / np.linalg.norm(spine), [0, 1, 0], atol=1e-6)
    np.testing.assert_allclose(shoulders / np.linalg.norm(shoulders), [1, 0, 0], atol=1e-6)
    # The whole scene is the canonical one again (both actors, same rotation), origin at the spine.
    np.testing.assert_allclose(out[0, 0], body - body[SPINE_MID], atol=1e-5)
    np.testing.assert_allclose(out[0, 1], partner - body[SPINE_MID], atol=1e-5)
    np.testing.assert_array_equal(out[3, 1], 0)  # zeros stay zeros
    np.testing.assert_allclose(rot @ rot.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(rot) == pytest.approx(1.0)


def test_degenerate_spine_cannot_be_aligned():
    data = np.zeros((2, 2, 25, 3), np.float32)
    data[:, 0] = 1.0  # every joint at the same point
    with pytest.raises(ValueError, match="spine"):
        view_rotation(data)


def write_person_file(tmp_path, rotation: np.ndarray) -> str:
    rng = np.random.default_rng(2)
    body = canonical_body(rng)
    rows = np.stack([(body + [0.01 * t, 0.0, 0.0]) @ rotation.T + [0.3, 0.1, 3.0] for t in range(15)])
    rows = np.round(rows, 5).astype(np.float32)
    seq = SkeletonSequence(15, np.arange(15, dtype=np.int32), ["72057594037931101"] * 15, rows)
    path = tmp_path / "S001C002P003R001A010.skeleton"
    write_skeleton(str(path), seq)
    return str(path)


@pytest.mark.parametrize("mode", ["standard", "clean"])
def test_processed_file_starts_at_the_spine_origin(tmp_path, mode):
    path = write_person_file(tmp_path, random_rotation(np.random.default_rng(3)))
    s = process_file(path, PreprocessConfig(denoise=mode))
    np.testing.assert_array_equal(s.data[0, 0, SPINE_MID], np.zeros(3, np.float32))
    np.testing.assert_array_equal(s.data[:, 1], 0)  # one actor: slot 2 stays zeros
    assert s.data.shape == (15, 2, 25, 3) and s.num_bodies == 1
    assert s.info["align_view"] is False and "rotation" not in s.info


def test_processed_file_with_view_alignment(tmp_path):
    path = write_person_file(tmp_path, random_rotation(np.random.default_rng(4)))
    plain = process_file(path, PreprocessConfig())
    s = process_file(path, PreprocessConfig(align_view=True))
    spine = s.data[0, 0, SPINE_SHOULDER] - s.data[0, 0, SPINE_BASE]
    shoulders = s.data[0, 0, SHOULDER_RIGHT] - s.data[0, 0, SHOULDER_LEFT]
    np.testing.assert_allclose(spine / np.linalg.norm(spine), [0, 1, 0], atol=1e-6)
    np.testing.assert_allclose(shoulders[1:], 0, atol=1e-5)
    assert shoulders[0] > 0
    np.testing.assert_allclose(s.data[0, 0, SPINE_MID], 0, atol=1e-6)
    np.testing.assert_array_equal(s.data[:, 1], 0)
    # A rotation only: joint distances are those of the unaligned sample.
    d_plain = np.linalg.norm(plain.data[:, 0, :, None] - plain.data[:, 0, None], axis=-1)
    d_aligned = np.linalg.norm(s.data[:, 0, :, None] - s.data[:, 0, None], axis=-1)
    np.testing.assert_allclose(d_aligned, d_plain, atol=1e-5)
    assert np.asarray(s.info["rotation"]).shape == (3, 3)


def test_alignment_failure_is_a_sample_error(tmp_path):
    rows = np.ones((15, 25, 3), np.float32)
    seq = SkeletonSequence(15, np.arange(15, dtype=np.int32), ["1"] * 15, rows)
    path = tmp_path / "S001C002P003R001A010.skeleton"
    write_skeleton(str(path), seq)
    process_file(str(path), PreprocessConfig())  # fine without alignment
    with pytest.raises(SampleError, match=r"^S001C002P003R001A010\.skeleton: cannot align view"):
        process_file(str(path), PreprocessConfig(align_view=True))


def test_unnamed_recording_needs_require_name_false(tmp_path):
    path = write_person_file(tmp_path, np.eye(3))
    renamed = tmp_path / "my_recording.skeleton"
    renamed.write_bytes(open(path, "rb").read())
    with pytest.raises(ValueError, match="SsssCcccPpppRrrrAaaa"):
        process_file(str(renamed), PreprocessConfig())
    s = process_file(str(renamed), PreprocessConfig(), require_name=False)
    assert s.name is None and s.data.shape == (15, 2, 25, 3)

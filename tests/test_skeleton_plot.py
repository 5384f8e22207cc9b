"""Skeleton pictures: real Agg rendering of strips and animations, the loader, and the show CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pytest
from mpl_toolkits.mplot3d.art3d import Line3D
from PIL import Image

from dashboards.skeleton_source import load_sequence
from skelmae.track.skeleton_plot import (
    NTU_BONES,
    bone_artists,
    plot_sequence_strip,
    save_animation,
)

REPO = Path(__file__).resolve().parents[1]

# A standing body in camera space (x, y up; metres); right side mirrors the left.
_LEFT = {0: (0, 0), 1: (0, 0.25), 20: (0, 0.5), 2: (0, 0.58), 3: (0, 0.72), 4: (-0.18, 0.48),
         5: (-0.22, 0.22), 6: (-0.24, 0.0), 7: (-0.25, -0.06), 21: (-0.26, -0.12), 22: (-0.2, -0.04),
         12: (-0.1, -0.02), 13: (-0.1, -0.45), 14: (-0.1, -0.85), 15: (-0.1, -0.88)}
_MIRROR = {4: 8, 5: 9, 6: 10, 7: 11, 21: 23, 22: 24, 12: 16, 13: 17, 14: 18, 15: 19}


def body_sequence(num_frames: int = 20, actors: int = 2, seed: int = 0) -> np.ndarray:
    """data: [T, 2, 25, 3], actors waving their right arm; slot 2 all zero when actors == 1."""
    pose = np.zeros((25, 2))
    for v, xy in _LEFT.items():
        pose[v] = xy
    for left, right in _MIRROR.items():
        pose[right] = (-pose[left, 0], pose[left, 1])
    rng = np.random.default_rng(seed)
    data = np.zeros((num_frames, 2, 25, 3), np.float32)
    phase = np.linspace(0, 2 * np.pi, num_frames)
    for m in range(actors):
        data[:, m, :, 0] = pose[:, 0] + 0.9 * m
        data[:, m, :, 1] = pose[:, 1]
        data[:, m, :, 2] = 3.0 + 0.3 * m
        for k, v in enumerate((9, 10, 11, 23, 24)):  # right arm up and down
            data[:, m, v, 1] += (0.3 + 0.2 * np.sin(phase)) * (k + 1) / 5
        data[:, m] += rng.normal(0, 0.005, (num_frames, 25, 3)).astype(np.float32)
    return data


def test_ntu_bones_form_a_tree_over_the_25_joints():
    assert len(NTU_BONES) == 24
    children = [c for c, _ in NTU_BONES]
    assert sorted(children) == list(range(1, 25))  # every joint but the base of the spine has one parent
    parent = dict(NTU_BONES)
    for v in range(1, 25):  # every joint reaches the root
        seen = set()
        while v != 0:
            assert v not in seen
            seen.add(v)
            v = parent[v]
    for bone in [(3, 2), (2, 20), (5, 4), (7, 6), (13, 12), (17, 16), (21, 7), (23, 11)]:
        assert bone in NTU_BONES


def _png_stats(fig, path: Path) -> tuple[int, float]:
    fig.savefig(path, dpi=80)
    img = mpimg.imread(path)
    return path.stat().st_size, float(img[..., :3].std())


def test_strip_of_two_actors_draws_24_bones_each_per_panel(tmp_path):
    data = body_sequence(30, actors=2)
    fig = plot_sequence_strip(data, num_frames=5, title="two actors")
    assert len(fig.axes) == 5
    for ax in fig.axes:
        bones = bone_artists(ax)
        assert sorted(bones) == [0, 1]
        assert all(len(lines) == 24 for lines in bones.values())
        assert all(isinstance(line, Line3D) for line in bones[0] + bones[1])
        assert bones[0][0].get_color() != bones[1][0].get_color()
    # same limits in every panel, so sizes compare across the strip
    limits = {(ax.get_xlim(), ax.get_ylim(), ax.get_zlim()) for ax in fig.axes}
    assert len(limits) == 1
    size, spread = _png_stats(fig, tmp_path / "strip.png")
    assert size > 10_000
    assert spread > 0.02  # not a blank image


def test_strip_of_one_actor_draws_one_actor_and_skips_empty_frames():
    data = body_sequence(30, actors=1)
    data[:6] = 0  # empty leading frames are not panels
    fig = plot_sequence_strip(data, num_frames=4)
    assert len(fig.axes) == 4
    for ax in fig.axes:
        bones = bone_artists(ax)
        assert list(bones) == [0]
        assert len(bones[0]) == 24
        assert int(ax.get_title().split("=")[1]) >= 6


def test_strip_with_fewer_frames_than_asked_and_bad_input():
    fig = plot_sequence_strip(body_sequence(3), num_frames=8)
    assert len(fig.axes) == 3
    with pytest.raises(ValueError, match="no non-zero frame"):
        plot_sequence_strip(np.zeros((5, 2, 25, 3)))
    with pytest.raises(ValueError, match=r"\[T, M, 25, 3\]"):
        plot_sequence_strip(np.zeros((5, 2, 20, 3)))


@pytest.mark.parametrize("ext", [".gif", ".html"])
def test_animation_files_are_written(tmp_path, ext):
    data = body_sequence(10, actors=2)
    data[7:, 1] = 0  # second actor leaves: its bones are hidden, not drawn at the origin
    path = save_animation(data, str(tmp_path / f"anim{ext}"), fps=10, title="wave")
    raw = Path(path).read_bytes()
    assert len(raw) > 5_000
    if ext == ".gif":
        assert raw[:4] == b"GIF8"
        with Image.open(path) as im:
            assert im.n_frames == 10
    else:
        text = raw.decode("utf-8")
        assert text.startswith("<!DOCTYPE html>")
        assert text.count("data:image/png;base64") == 10  # frames embedded: a self-contained file


def test_animation_rejects_unknown_extension(tmp_path):
    with pytest.raises(ValueError, match="anim.mp4"):
        save_animation(body_sequence(5), str(tmp_path / "anim.mp4"))


def test_load_sequence_from_arrays():
    import torch

    data = body_sequence(7)
    out, title = load_sequence(data)
    assert out.shape == (7, 2, 25, 3) and out.dtype == np.float32
    out_t, _ = load_sequence(torch.from_numpy(data))
    np.testing.assert_array_equal(out_t, data)
    one, _ = load_sequence(data[:, 0])  # [T, V, 3] gets an actor axis
    assert one.shape == (7, 1, 25, 3)


def _write_dataset(data_dir: Path, samples: dict[str, np.ndarray]) -> None:
    from data_pipeline.parquet_io import rows_to_table, samples_dir, write_table_file
    from data_pipeline.skeleton_format import parse_sample_name

    os.makedirs(samples_dir(str(data_dir)))
    rows = []
    for sid, data in samples.items():
        n = parse_sample_name(sid)
        rows.append(dict(sample_id=sid, setup=n.setup, camera=n.camera, subject=n.subject,
                         replication=n.replication, action=n.action, label=n.label, num_frames=len(data),
                         num_bodies=2, joints=data, denoise_info="{}", source=f"{sid}.skeleton"))
    import pyarrow.fs as pafs

    write_table_file(rows_to_table(rows), os.path.join(samples_dir(str(data_dir)), "part-0.parquet"),
                     pafs.LocalFileSystem())


def test_load_sequence_by_sample_id_from_parquet(tmp_path):
    a, b = body_sequence(9, seed=1), body_sequence(12, seed=2)
    _write_dataset(tmp_path / "data", {"S001C001P001R001A050": a, "S002C003P004R002A023": b})
    out, title = load_sequence("S002C003P004R002A023", data_dir=str(tmp_path / "data"))
    np.testing.assert_array_equal(out, b)
    assert title == "S002C003P004R002A023: hand waving"
    with pytest.raises(KeyError, match="S009C001P001R001A001"):
        load_sequence("S009C001P001R001A001", data_dir=str(tmp_path / "data"))
    with pytest.raises(FileNotFoundError, match="--data"):
        load_sequence("S002C003P004R002A023")


def _write_skeleton_file(path: Path, data: np.ndarray) -> None:
    from data_pipeline.skeleton_format import SkeletonSequence, write_skeleton

    frame_index, body_ids, joints = [], [], []
    for t in range(len(data)):
        for m in range(2):
            if np.any(data[t, m]):
                frame_index.append(t)
                body_ids.append(str(72057594037927936 + 100 + m))
                joints.append(data[t, m])
    write_skeleton(str(path), SkeletonSequence(len(data), np.asarray(frame_index, np.int32), body_ids,
                                               np.asarray(joints, np.float32)))


def test_load_sequence_from_a_skeleton_file_goes_through_preprocessing(tmp_path):
    from data_pipeline.process import PreprocessConfig
    from skelmae.config.loader import ConfigError

    path = tmp_path / "S001C001P001R001A050.skeleton"
    _write_skeleton_file(path, body_sequence(24, actors=2))
    data, title = load_sequence(str(path))
    assert data.shape == (24, 2, 25, 3)
    assert np.any(data[:, 0]) and np.any(data[:, 1])
    assert title.startswith("S001C001P001R001A050: ")
    with pytest.raises(ConfigError, match="denoise"):  # the given config is the one used
        load_sequence(str(path), cfg=PreprocessConfig(denoise="bogus"))
    other = tmp_path / "new_recording.skeleton"  # names outside the NTU scheme still load
    other.write_bytes(path.read_bytes())
    data, title = load_sequence(str(other))
    assert data.shape == (24, 2, 25, 3) and title == "new_recording.skeleton"


def _show(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "dashboards.show", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def test_show_cli_draws_a_skeleton_file(tmp_path):
    # goes through data_pipeline.process.process_file, the one preprocessing path
    path = tmp_path / "S001C001P001R001A050.skeleton"
    _write_skeleton_file(path, body_sequence(24, actors=2))
    res = _show([str(path), "--frames", "4"], cwd=tmp_path)  # default out: <id>.png in cwd
    assert res.returncode == 0, res.stderr
    out = tmp_path / "S001C001P001R001A050.png"
    assert f"wrote {out}" in res.stdout
    assert out.stat().st_size > 5_000
    assert mpimg.imread(out)[..., :3].std() > 0.02

    res = _show([str(path), "--out", str(tmp_path / "a.gif"), "--elev", "30", "--azim", "-40"], cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "a.gif").read_bytes()[:4] == b"GIF8"


def test_show_cli_by_sample_id_and_errors(tmp_path):
    _write_dataset(tmp_path / "data", {"S001C001P001R001A050": body_sequence(9)})
    res = _show(["S001C001P001R001A050", "--data", str(tmp_path / "data"), "--out", "x.html"], cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "x.html").stat().st_size > 5_000
    res = _show([str(tmp_path / "missing.skeleton")], cwd=tmp_path)
    assert res.returncode == 1
    assert "missing.skeleton" in res.stderr
    res = _show(["S001C001P001R001A050", "--out", "x.jpg"], cwd=tmp_path)
    assert res.returncode == 2 and "--out" in res.stderr

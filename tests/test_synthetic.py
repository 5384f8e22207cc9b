"""Synthetic NTU-format data: real-format files, deterministic, varied, with a temporal learning signal."""

import importlib.util
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from data_pipeline.action_names import TWO_PERSON_ACTIONS
from data_pipeline.ntu import NTU60_XSUB_TRAIN_SUBJECTS, load_missing
from data_pipeline.skeleton_format import parse_sample_name, read_skeleton
from data_pipeline.synthetic import (
    SYNTHETIC_ACTIONS,
    TIME_REVERSED_PAIRS,
    generate_dataset,
    generate_sample,
)

NUM = 6 * len(SYNTHETIC_ACTIONS)  # 6 per class: both subject groups x 3 cameras
# Bones whose length the kinematic body fixes (hand tips and thumbs carry more sensor noise).
BONES = [(0, 1), (1, 20), (20, 2), (2, 3), (20, 4), (4, 5), (5, 6), (20, 8), (8, 9), (9, 10),
         (0, 12), (12, 13), (13, 14), (0, 16), (16, 17), (17, 18)]


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> list[str]:
    return generate_dataset(str(tmp_path_factory.mktemp("synthetic") / "raw"), NUM, seed=0)


@pytest.fixture(scope="module")
def parsed(files):
    return [(parse_sample_name(p), read_skeleton(p)) for p in files]


def tracks(seq) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """bodyID -> (frames [F], xyz [F,25,3]) in order of first appearance."""
    out: dict[str, list[int]] = {}
    for row, bid in enumerate(seq.body_ids):
        out.setdefault(bid, []).append(row)
    return {bid: (seq.frame_index[rows], seq.xyz[rows]) for bid, rows in out.items()}


def is_noise(xyz: np.ndarray) -> bool:
    """The NTU denoising rules: a track of <= 11 frames, or one wider than tall in most frames."""
    spread = np.ptp(xyz, axis=1)  # [F,3]
    return len(xyz) <= 11 or np.mean(spread[:, 0] > 0.8 * spread[:, 1]) > 0.7


def actors(seq) -> np.ndarray:
    """[T,2,25,3] of the (at most two) non-noise bodies over the frames they appear in, most motion first."""
    main = [(f, j) for f, j in tracks(seq).values() if not is_noise(j)]
    main.sort(key=lambda fj: -np.abs(np.diff(fj[1], axis=0)).sum())
    frames = np.unique(np.concatenate([f for f, _ in main]))
    data = np.zeros((len(frames), 2, 25, 3), np.float32)
    for k, (f, j) in enumerate(main[:2]):
        data[np.searchsorted(frames, f), k] = j
    return data


def test_files_parse_with_unique_ntu_names(files, parsed):
    assert len(files) == NUM and all(Path(p).suffix == ".skeleton" for p in files)
    ids = [name.sample_id for name, _ in parsed]
    assert len(set(ids)) == NUM
    assert not set(ids) & (load_missing("ntu60") | load_missing("ntu120"))  # the pipeline would silently drop those
    for name, seq in parsed:
        assert name.action in SYNTHETIC_ACTIONS
        assert 1 <= name.subject <= 40 and 1 <= name.camera <= 3
        assert 1 <= name.setup <= 17 and 1 <= name.replication <= 2
        assert 40 <= seq.num_frames <= 150
        assert seq.xyz.shape[1:] == (25, 3) and np.all(np.isfinite(seq.xyz))
        assert all(len(b) == 17 and b.isdigit() for b in seq.body_ids)  # Kinect-like IDs, as text


def test_file_holds_exactly_the_generated_sample(files, parsed):
    for i in (0, 5, NUM - 1):
        name, seq = generate_sample(i, seed=0)
        assert Path(files[i]).name == name
        got = parsed[i][1]
        assert got.num_frames == seq.num_frames and got.body_ids == seq.body_ids
        np.testing.assert_array_equal(got.frame_index, seq.frame_index)
        np.testing.assert_allclose(got.xyz, seq.xyz, atol=1e-5)


def test_deterministic_per_seed_and_index(files, tmp_path):
    # Each file depends only on (seed, index): a shorter run reproduces the same first files.
    again = generate_dataset(str(tmp_path / "again"), 6, seed=0)
    for a, b in zip(again, files[:6], strict=True):
        assert Path(a).name == Path(b).name
        assert Path(a).read_bytes() == Path(b).read_bytes()
    other = generate_dataset(str(tmp_path / "other"), 6, seed=1)
    assert all(Path(a).read_bytes() != Path(b).read_bytes() for a, b in zip(other, again, strict=True))
    assert [Path(p).name for p in other] != [Path(p).name for p in again]


def test_classes_bodies_and_splits(parsed):
    by_action = defaultdict(list)
    for name, seq in parsed:
        by_action[name.action].append((name, seq))
    assert len(by_action) >= 10
    assert len(set(by_action) & TWO_PERSON_ACTIONS) >= 3
    for action, items in by_action.items():
        groups = {name.subject in NTU60_XSUB_TRAIN_SUBJECTS for name, _ in items}
        assert groups == {True, False}, f"A{action:03d} lacks a cross-subject group"
        assert {name.camera for name, _ in items} == {1, 2, 3}, f"A{action:03d} lacks a camera"
        for name, seq in items:
            full = [bid for bid, (f, j) in tracks(seq).items() if not is_noise(j)]
            want = 2 if action in TWO_PERSON_ACTIONS else 1
            assert len(full) == want, f"{name.sample_id}: {len(full)} actors"
            per_frame = seq.bodies_per_frame
            assert np.all((per_frame[per_frame > 0]) >= want), name.sample_id  # actors never drop out


def test_noise_bodies_and_empty_frames_occur(parsed):
    extra = empty = 0
    for name, seq in parsed:
        t = tracks(seq)
        noise = [j for f, j in t.values() if is_noise(j)]
        if noise:
            extra += 1
            assert len(t) == len(noise) + (2 if name.action in TWO_PERSON_ACTIONS else 1)
        per_frame = seq.bodies_per_frame
        if np.any(per_frame == 0):
            empty += 1
            occupied = np.flatnonzero(per_frame)
            # Empty frames only at the ends, as in the real recordings.
            assert np.all(per_frame[occupied[0]: occupied[-1] + 1] > 0), name.sample_id
    assert 1 <= extra <= 0.25 * NUM
    assert 1 <= empty <= 0.2 * NUM


def test_kinematic_body_fixed_per_subject(parsed):
    lengths = defaultdict(list)  # subject -> mean bone lengths of each of its files' performer
    for name, seq in parsed:
        if name.action in TWO_PERSON_ACTIONS:
            continue  # the performer cannot be told from the partner by the file alone
        (f, j), = [fj for fj in tracks(seq).values() if not is_noise(fj[1])]
        bl = np.stack([np.linalg.norm(j[:, a] - j[:, b], axis=-1) for a, b in BONES], -1)  # [F,B]
        assert bl.std(axis=0).max() < 0.015, name.sample_id  # rigid bones, up to sensor noise
        lengths[name.subject].append(bl.mean(axis=0))
    repeated = [np.stack(v) for v in lengths.values() if len(v) > 1]
    assert repeated
    for v in repeated:
        assert np.ptp(v, axis=0).max() < 0.012  # the same body in every file of a subject
    heights = [v[0][[0, 1, 2, 3]].sum() + v[0][[11, 12]].sum() for v in lengths.values()]
    assert np.ptp(heights) > 0.08  # bodies differ between subjects


def test_camera_space_and_views(parsed):
    facing = defaultdict(list)
    for name, seq in parsed:
        xyz = seq.xyz
        assert 1.5 < np.median(xyz[:, 0, 2]) < 4.5  # in front of the camera, metres
        if name.action in TWO_PERSON_ACTIONS:
            continue
        (f, j), = [fj for fj in tracks(seq).values() if not is_noise(fj[1])]
        assert np.mean(j[:, 3, 1] > j[:, 0, 1]) > 0.95  # y up: head above the base of the spine
        shoulders = (j[:, 4] - j[:, 8]).mean(axis=0)  # left minus right shoulder
        facing[name.camera].append(np.degrees(np.arctan2(shoulders[2], -shoulders[0])))
    mean = {c: np.mean(v) for c, v in facing.items()}
    # Camera 2 sees the performer from the front; cameras 1 and 3 from about 45 degrees either side.
    assert abs(mean[2]) < 15
    assert 25 < abs(mean[1] - mean[2]) < 65 and 25 < abs(mean[3] - mean[2]) < 65
    assert np.sign(mean[1] - mean[2]) == -np.sign(mean[3] - mean[2])


def _features(actions, n, seed):
    """Temporal (resampled actor velocities + actor distance) and single-frame pose features."""
    rng = np.random.default_rng(0)
    temporal, static, y, train = [], [], [], []
    for i in range(n):
        name, seq = generate_sample(i, seed, actions)
        s = parse_sample_name(name)
        d = actors(seq)  # [T,2,25,3]
        x = d - d[0:1, 0:1, 0:1]
        r = x[np.linspace(0, len(x) - 1, 12).round().astype(int)]
        dist = np.linalg.norm(r[:, 0, 0] - r[:, 1, 0], axis=-1) * bool(np.abs(r[:, 1]).sum())
        temporal.append(np.concatenate([np.diff(r[:, :, [0, 3, 6, 10, 14, 18]], axis=0).ravel(), dist - dist[0]]))
        frame = d[rng.integers(len(d))]  # one random frame: no order in time
        static.append((frame - frame[0:1, 0:1]).ravel())
        y.append(s.action)
        train.append(s.subject in NTU60_XSUB_TRAIN_SUBJECTS)
    return np.array(temporal), np.array(static), np.array(y), np.array(train)


def _cross_subject_acc(x, y, train) -> float:
    clf = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=3000))
    clf.fit(x[train], y[train])
    return float(np.mean(clf.predict(x[~train]) == y[~train]))


def test_learning_signal_is_in_the_motion():
    # All classes: motion over time separates them far above chance (1/14).
    temporal, static, y, train = _features(SYNTHETIC_ACTIONS, 12 * len(SYNTHETIC_ACTIONS), seed=0)
    acc_t, acc_s = _cross_subject_acc(temporal, y, train), _cross_subject_acc(static, y, train)
    assert acc_t > 0.45, acc_t
    assert acc_t > acc_s + 0.1, (acc_t, acc_s)

    # Time-reversed pairs: one frame says nothing about which of the pair it is; motion does.
    acts = [a for pair in TIME_REVERSED_PAIRS for a in pair]
    temporal, static, y, train = _features(acts, 24 * len(acts), seed=0)
    pair_t, pair_s = [], []
    for pair in TIME_REVERSED_PAIRS:
        m = np.isin(y, pair)
        pair_t.append(_cross_subject_acc(temporal[m], y[m], train[m]))
        pair_s.append(_cross_subject_acc(static[m], y[m], train[m]))
    assert np.mean(pair_t) > 0.8, pair_t
    assert np.mean(pair_s) < 0.65, pair_s  # chance is 0.5


def test_processed_by_the_pipeline(files):
    if importlib.util.find_spec("data_pipeline.process") is None:
        pytest.skip("data_pipeline.process not written yet")
    from data_pipeline.process import PreprocessConfig, SampleError, process_file

    ok = 0
    for path in files:
        try:
            s = process_file(path, PreprocessConfig())
        except SampleError:
            continue
        ok += 1
        assert s.data.shape[1:] == (2, 25, 3) and s.data.dtype == np.float32
        assert s.num_bodies == (2 if s.name.action in TWO_PERSON_ACTIONS else 1), s.name.sample_id
    assert ok >= 0.95 * len(files)


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="actions"):
        generate_dataset(str(tmp_path), 2, actions=[8, 61])
    with pytest.raises(ValueError, match="num_samples"):
        generate_dataset(str(tmp_path), -1)


def test_job_script(tmp_path, capsys):
    path = Path(__file__).resolve().parents[1] / "jobs" / "make_synthetic.py"
    spec = importlib.util.spec_from_file_location("job_make_synthetic", path)
    job = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(job)
    assert job.main(["--out", str(tmp_path / "raw"), "--samples", "3", "--actions", "8,9"]) == 0
    assert sorted(p.name[16:] for p in (tmp_path / "raw").iterdir()) == ["A008.skeleton"] * 2 + ["A009.skeleton"]
    assert "wrote 3" in capsys.readouterr().out
    assert job.main(["--samples", "0"]) == 2

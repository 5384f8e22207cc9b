"""Figures for MLflow: reconstruction panels, confusion matrix, per-class table, feature maps."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.collections import PathCollection

from data_pipeline.action_names import ACTION_NAMES
from skelmae.track.figures import (
    confusion_matrix,
    feature_map_coords,
    frame_mask,
    per_class_accuracy,
    plot_confusion_matrix,
    plot_feature_map,
    plot_reconstruction,
    reconstruction_axes,
)
from skelmae.track.skeleton_plot import NTU_BONES, bone_artists

ARM = [9, 10, 11, 23, 24]  # right elbow, wrist, hand, hand tip, thumb


def body_sequence(num_frames: int, actors: int = 2, seed: int = 0) -> np.ndarray:
    """data: [T, 2, 25, 3] of rough standing bodies with a moving right arm."""
    rng = np.random.default_rng(seed)
    base = rng.uniform(-0.3, 0.3, (25, 3)) + np.array([0.0, 0.0, 3.0])
    base[:, 1] = np.linspace(-0.9, 0.7, 25)  # spread over the height, like a body
    data = np.zeros((num_frames, 2, 25, 3), np.float32)
    for m in range(actors):
        data[:, m] = base + np.array([0.9 * m, 0, 0.3 * m])
        data[:, m, ARM, 1] += np.sin(np.linspace(0, 2 * np.pi, num_frames))[:, None] * 0.3
    return data


def _dashed(ax, actor: int) -> int:
    return sum(line.get_linestyle() == "--" for line in bone_artists(ax)[actor])


def test_frame_mask_maps_segments_to_frames():
    mask = np.zeros((2, 3, 25))
    mask[0, 1, 4] = 1
    fm = frame_mask(mask, num_frames=12, segment_len=4)  # [T, M, V]
    assert fm.shape == (12, 2, 25)
    assert np.flatnonzero(fm[:, 0, 4]).tolist() == [4, 5, 6, 7]
    assert fm.sum() == 4
    with pytest.raises(ValueError, match="segments"):
        frame_mask(mask, num_frames=13, segment_len=4)


def test_reconstruction_shows_the_masking_strategy():
    data = body_sequence(24)
    joint_mask = np.zeros((2, 6, 25))  # the same arm joints hidden in every segment
    joint_mask[:, :, ARM] = 1
    frame_mask_ = np.zeros((2, 6, 25))  # whole segments hidden
    frame_mask_[:, ::2] = 1
    fig = plot_reconstruction([data, data], [joint_mask, frame_mask_], [data, data], segment_len=4,
                              num_frames=4, titles=["joint", "frame"])
    assert len(fig.axes) == 2 * 3 * 4
    arm_bones = sum(c in ARM or p in ARM for c, p in NTU_BONES)
    for ax in reconstruction_axes(fig, 0, "masked input"):
        assert _dashed(ax, 0) == _dashed(ax, 1) == arm_bones  # same joints grey in every frame
    for s, row in [(0, "original"), (0, "reconstruction"), (1, "original"), (1, "reconstruction")]:
        for ax in reconstruction_axes(fig, s, row):
            assert _dashed(ax, 0) == 0 and len(bone_artists(ax)[0]) == 24
    dashed = []
    for ax in reconstruction_axes(fig, 1, "masked input"):
        dashed.append(_dashed(ax, 0))
        assert len(bone_artists(ax)[0]) == 24
    frames_shown = [0, 8, 15, 23]  # 4 evenly spaced frames of 24; segments 0, 2, 3, 5
    expected = [24 if (f // 4) % 2 == 0 else 0 for f in frames_shown]
    assert dashed == expected  # whole frames grey or whole frames coloured


def _panel_pixels(fig, axes) -> list[np.ndarray]:
    fig.canvas.draw()
    img = np.asarray(fig.canvas.buffer_rgba())[..., :3].astype(np.float64)
    h = img.shape[0]
    out = []
    for ax in axes:
        b = ax.get_window_extent()
        out.append(img[int(h - b.y1) + 1 : int(h - b.y0) - 1, int(b.x0) + 1 : int(b.x1) - 1])
    rows, cols = min(p.shape[0] for p in out), min(p.shape[1] for p in out)
    return [p[:rows, :cols] for p in out]  # panels can differ by a pixel from rounding


def test_reconstruction_panels_show_the_reconstruction():
    data = body_sequence(16, actors=1)
    mask = np.zeros((2, 4, 25))
    mask[:, :, ARM] = 1
    noisy = data + np.random.default_rng(0).normal(0, 0.08, data.shape).astype(np.float32)
    noisy[:, 1] = 0
    figs = {name: plot_reconstruction(data, mask, recon, segment_len=4, num_frames=3)
            for name, recon in [("exact", data), ("noisy", noisy)]}
    rows = ("original", "masked input", "reconstruction")
    px = {}
    for name, fig in figs.items():
        panels = _panel_pixels(fig, [ax for row in rows for ax in reconstruction_axes(fig, 0, row)])
        px[name] = {row: panels[3 * i : 3 * i + 3] for i, row in enumerate(rows)}
    for c in range(3):
        # the original and masked rows do not depend on the reconstruction ...
        assert np.array_equal(px["exact"]["original"][c], px["noisy"]["original"][c])
        assert np.array_equal(px["exact"]["masked input"][c], px["noisy"]["masked input"][c])
        # ... the reconstruction row does, and it is not the masked picture
        assert np.abs(px["exact"]["reconstruction"][c] - px["noisy"]["reconstruction"][c]).mean() > 1.0
        assert np.abs(px["noisy"]["reconstruction"][c] - px["noisy"]["masked input"][c]).mean() > 1.0


def test_reconstruction_rejects_mismatched_inputs():
    data = body_sequence(8)
    with pytest.raises(ValueError, match="must match"):
        plot_reconstruction([data, data], [np.zeros((2, 2, 25))], [data, data], segment_len=4)
    with pytest.raises(ValueError, match="segments"):
        plot_reconstruction(data, np.zeros((2, 1, 25)), data, segment_len=4)
    with pytest.raises(ValueError, match="reconstruction"):
        plot_reconstruction(data, np.zeros((2, 2, 25)), data[:4], segment_len=4)


def _predictions(n: int = 200, k: int = 12, seed: int = 0):
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, k, n)
    y_pred = np.where(rng.random(n) < 0.6, y_true, rng.integers(0, k, n))
    return y_true, y_pred


def test_confusion_matrix_counts():
    y_true, y_pred = _predictions()
    cm = confusion_matrix(y_true, y_pred, 12)
    assert cm.shape == (12, 12)
    assert cm.sum() == len(y_true)
    assert np.trace(cm) == int((y_true == y_pred).sum())
    np.testing.assert_array_equal(cm.sum(axis=1), np.bincount(y_true, minlength=12))
    np.testing.assert_array_equal(confusion_matrix([0, 1, 1], [1, 1, 0], 2), [[0, 1], [1, 1]])
    with pytest.raises(ValueError, match="y_pred"):
        confusion_matrix([0, 1], [0, 5], 3)


def test_per_class_accuracy_table():
    y_true, y_pred = _predictions(k=10)
    y_true[y_true == 3] = 4  # class 3 never occurs as true label
    df = per_class_accuracy(y_true, y_pred, ACTION_NAMES[:10])
    assert list(df.columns) == ["label", "name", "support", "correct", "accuracy"]
    assert len(df) == 10
    assert df["support"].sum() == len(y_true)
    assert df["correct"].sum() == int((y_true == y_pred).sum())
    assert df.loc[0, "name"] == "drink water"
    assert np.isnan(df.loc[3, "accuracy"])
    present = df[df.support > 0]
    np.testing.assert_allclose(present.accuracy, present.correct / present.support)


def test_plot_confusion_matrix_all_and_present_classes():
    y_true, y_pred = _predictions(k=8)
    cm = confusion_matrix(y_true, y_pred, 60)  # 60 classes, 8 occur
    fig = plot_confusion_matrix(cm, ACTION_NAMES[:60])
    ax = fig.axes[0]
    shown = np.asarray(ax.images[0].get_array())
    assert shown.shape == (60, 60)
    np.testing.assert_allclose(shown[:8].sum(axis=1), 1.0)  # normalised rows
    assert len(ax.get_xticklabels()) == 60

    fig = plot_confusion_matrix(cm, ACTION_NAMES[:60], normalize=False, labels="present")
    ax = fig.axes[0]
    shown = np.asarray(ax.images[0].get_array())
    assert shown.shape == (8, 8)
    assert shown.sum() == len(y_true)
    assert [t.get_text() for t in ax.get_yticklabels()] == ACTION_NAMES[:8]
    with pytest.raises(ValueError, match="class_names"):
        plot_confusion_matrix(cm, ACTION_NAMES[:10])


def _scatter_points(ax) -> int:
    return sum(len(c.get_offsets()) for c in ax.collections if isinstance(c, PathCollection))


def test_feature_map_has_one_point_per_sample_per_method():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(4), 6)  # 24 samples: t-SNE's perplexity must adapt to a small N
    pretrained = rng.normal(size=(24, 32)) + labels[:, None] * 2.0
    random_init = rng.normal(size=(24, 32))
    features = {"pretrained": pretrained, "random init": random_init}
    coords = feature_map_coords(features)
    for name in features:
        for m in ("pca", "tsne"):
            assert coords[name][m].shape == (24, 2)
            assert np.all(np.isfinite(coords[name][m]))
            assert np.ptp(coords[name][m], axis=0).min() > 0
    fig = plot_feature_map(features, labels, ACTION_NAMES, coords=coords)
    assert len(fig.axes) == 4
    for ax in fig.axes:
        assert _scatter_points(ax) == 24
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ACTION_NAMES[:4]


def test_feature_map_subsamples_and_checks_input():
    rng = np.random.default_rng(1)
    features = {"f": rng.normal(size=(30, 8))}
    labels = rng.integers(0, 3, 30)
    fig = plot_feature_map(features, labels, ACTION_NAMES, method=("pca",), max_points=10)
    assert len(fig.axes) == 1 and _scatter_points(fig.axes[0]) == 10
    with pytest.raises(ValueError, match="rows for"):
        plot_feature_map(features, labels[:5], ACTION_NAMES)
    with pytest.raises(ValueError, match="method"):
        feature_map_coords(features, method=("umap",))

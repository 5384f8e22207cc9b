"""Figures that training and evaluation jobs log to MLflow (`mlflow.log_figure(fig, "x.png")`).

Every function returns a new `Figure` on its own Agg canvas and keeps no state between calls.

- `plot_reconstruction`: original / masked input / reconstruction of masked-autoencoder samples.
- `confusion_matrix`, `plot_confusion_matrix`, `per_class_accuracy`: classification results.
- `feature_map_coords`, `plot_feature_map`: 2-D PCA and t-SNE maps of encoder features by action.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE
from sklearn.metrics import confusion_matrix as sklearn_confusion_matrix

from skelmae.track.skeleton_plot import (
    ACTOR_COLORS,
    DEFAULT_VIEW,
    as_numpy,
    check_sequence,
    cube_limits,
    draw_skeleton,
    new_figure,
    pick_frames,
    present,
    setup_axes,
)

RECON_ROWS = ("original", "masked input", "reconstruction")

# --------------------------------------------------------------------------------------------------
# Reconstruction


def _as_sample_list(x: Any, sample_ndim: int, name: str) -> list[np.ndarray]:
    """A list of per-sample arrays from a list/tuple of samples, one sample, or a batch (one more dim)."""
    if isinstance(x, (list, tuple)):
        return [as_numpy(s) for s in x]
    arr = as_numpy(x)
    if arr.ndim == sample_ndim:
        return [arr]
    if arr.ndim == sample_ndim + 1:
        return list(arr)
    raise ValueError(f"{name}: expected {sample_ndim} dims per sample (or a batch), got {list(arr.shape)}")


def frame_mask(mask: np.ndarray, num_frames: int, segment_len: int) -> np.ndarray:
    """Per-frame joint mask [T, M, V] bool from a segment mask [M, Ts, V] (frame t is in segment t // L)."""
    if segment_len < 1:
        raise ValueError(f"segment_len must be >= 1, got {segment_len}")
    m = np.asarray(mask) > 0.5  # 1 = masked
    if m.ndim != 3:
        raise ValueError(f"mask: expected shape [M, Ts, V], got {list(m.shape)}")
    segments = np.arange(num_frames) // segment_len  # [T]
    if segments[-1] >= m.shape[1]:
        raise ValueError(
            f"mask has {m.shape[1]} segments of {segment_len} frames, too few for {num_frames} frames"
        )
    return m[:, segments].transpose(1, 0, 2)  # [T, M, V]


def plot_reconstruction(
    original: Any,
    masked_input_mask: Any,
    reconstruction: Any,
    segment_len: int,
    num_frames: int = 6,
    view: tuple[float, float] = DEFAULT_VIEW,
    titles: Sequence[str] | None = None,
    actor_colors: Sequence[str] = ACTOR_COLORS,
    panel_size: float = 1.8,
) -> Figure:
    """Three rows per sample - original, masked input, reconstruction - over `num_frames` frames.

    original, reconstruction: [T, M, V, 3]; masked_input_mask: [M, Ts, V], 1 = masked, Ts = T / L
    with L = segment_len. Each may also be a list of samples or a batch with a leading N axis, which
    draws 3 rows per sample. In the masked-input row, masked joints are grey x markers and bones with
    a masked end are dashed grey, so joint masking shows as the same grey joints in every frame and
    frame (segment) masking as whole grey frames. All rows of a sample share the original's axis
    limits (so a logged sample is framed the same at every epoch); actor slots that are empty in the
    original are not drawn in any row.
    """
    origs = _as_sample_list(original, 4, "original")
    masks = _as_sample_list(masked_input_mask, 3, "masked_input_mask")
    recons = _as_sample_list(reconstruction, 4, "reconstruction")
    if not len(origs) == len(masks) == len(recons):
        raise ValueError(
            f"original, masked_input_mask and reconstruction hold {len(origs)}, {len(masks)} and "
            f"{len(recons)} samples; they must match"
        )
    if titles is not None and len(titles) != len(origs):
        raise ValueError(f"titles: {len(titles)} given for {len(origs)} samples")
    samples = []
    for i, (o, mk, r) in enumerate(zip(origs, masks, recons, strict=True)):
        o = check_sequence(o, f"original[{i}]")
        r = check_sequence(r, f"reconstruction[{i}]")
        if r.shape != o.shape:
            raise ValueError(f"reconstruction[{i}]: shape {list(r.shape)}, original {list(o.shape)}")
        fm = frame_mask(mk, o.shape[0], segment_len)  # [T, M, V]
        if fm.shape[1:] != o.shape[1:3]:
            raise ValueError(
                f"masked_input_mask[{i}] covers {fm.shape[1]} actors x {fm.shape[2]} joints, "
                f"the original has {o.shape[1]} x {o.shape[2]}"
            )
        samples.append((o, fm, r, pick_frames(o, num_frames)))

    cols = max(len(s[3]) for s in samples)
    rows = 3 * len(samples)
    fig = new_figure((panel_size * cols + 0.5, panel_size * rows + 0.3))
    for s, (o, fm, r, frames) in enumerate(samples):
        limits = cube_limits(o)  # framed by the original: the same picture every epoch for a sample
        there = present(o)  # [T, M]
        for row in range(3):
            for c, t in enumerate(frames):
                ax = fig.add_subplot(rows, cols, (3 * s + row) * cols + c + 1, projection="3d")
                ax.set_gid(f"sample{s}/{RECON_ROWS[row]}/frame{c}")
                setup_axes(ax, limits, view)
                for m in range(min(o.shape[1], len(actor_colors))):
                    if not there[t, m]:
                        continue
                    joints = r[t, m] if row == 2 else o[t, m]
                    draw_skeleton(ax, joints, actor_colors[m], m, masked=fm[t, m] if row == 1 else None,
                                  linewidth=1.5, marker_size=5)
                if s == 0 and row == 0:
                    ax.set_title(f"t={t}", fontsize=7, pad=0)
                if c == 0:
                    label = RECON_ROWS[row] if titles is None or row else f"{titles[s]}\n{RECON_ROWS[row]}"
                    ax.text2D(-0.08, 0.5, label, transform=ax.transAxes, rotation=90, va="center",
                              ha="center", fontsize=7)
    fig.subplots_adjust(left=0.03, right=1, bottom=0, top=1 - 0.25 / (panel_size * rows + 0.3),
                        wspace=0, hspace=0.02)
    return fig


def reconstruction_axes(fig: Figure, sample: int, row: str) -> list:
    """The panels of one row ("original", "masked input", "reconstruction") of one sample, in order."""
    prefix = f"sample{sample}/{row}/"
    return [ax for ax in fig.axes if (ax.get_gid() or "").startswith(prefix)]


# --------------------------------------------------------------------------------------------------
# Classification results


def _labels_array(y: Any, name: str) -> np.ndarray:
    arr = np.asarray(y.detach().cpu().numpy() if hasattr(y, "detach") else y)
    if arr.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D array of class labels, got shape {list(arr.shape)}")
    if arr.size and not np.all(np.equal(np.mod(arr, 1), 0)):
        raise ValueError(f"{name}: class labels must be integers")
    return arr.astype(np.int64)


def confusion_matrix(y_true: Any, y_pred: Any, num_classes: int) -> np.ndarray:
    """[K, K] int64 counts: row = true class, column = predicted class."""
    t = _labels_array(y_true, "y_true")
    p = _labels_array(y_pred, "y_pred")
    if t.shape != p.shape:
        raise ValueError(f"y_true has {t.size} labels, y_pred {p.size}")
    for name, a in (("y_true", t), ("y_pred", p)):
        if a.size and (a.min() < 0 or a.max() >= num_classes):
            raise ValueError(f"{name}: labels must lie in 0..{num_classes - 1}, got {a.min()}..{a.max()}")
    return sklearn_confusion_matrix(t, p, labels=np.arange(num_classes)).astype(np.int64)


def per_class_accuracy(y_true: Any, y_pred: Any, class_names: Sequence[str]) -> pd.DataFrame:
    """One row per class: label, name, support (true samples), correct, accuracy (NaN if no support)."""
    cm = confusion_matrix(y_true, y_pred, len(class_names))
    support = cm.sum(axis=1)
    correct = np.diag(cm)
    with np.errstate(invalid="ignore", divide="ignore"):
        acc = np.where(support > 0, correct / np.maximum(support, 1), np.nan)
    return pd.DataFrame(
        {
            "label": np.arange(len(class_names)),
            "name": list(class_names),
            "support": support,
            "correct": correct,
            "accuracy": acc,
        }
    )


def plot_confusion_matrix(
    cm: np.ndarray,
    class_names: Sequence[str],
    normalize: bool = True,
    labels: Sequence[int] | str | None = None,
    title: str | None = None,
    max_name_len: int = 28,
) -> Figure:
    """Heat map of a [K, K] confusion matrix (rows true, columns predicted).

    normalize: each row divided by its count (per-class recall; rows without samples stay 0).
    labels: class indices to show, or "present" for classes that occur as true or predicted label;
    None shows all K. Cell values are written in when at most 20 classes are shown.
    """
    cm = np.asarray(cm)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(f"cm: expected a square [K, K] matrix, got shape {list(cm.shape)}")
    k = cm.shape[0]
    if len(class_names) != k:
        raise ValueError(f"class_names: {len(class_names)} names for a {k}x{k} matrix")
    if labels is None:
        idx = np.arange(k)
    elif isinstance(labels, str):
        if labels != "present":
            raise ValueError(f"labels: a list of class indices or 'present', got {labels!r}")
        idx = np.flatnonzero((cm.sum(axis=0) + cm.sum(axis=1)) > 0)
    else:
        idx = np.asarray(labels, dtype=np.int64)
        if idx.size and (idx.min() < 0 or idx.max() >= k):
            raise ValueError(f"labels: indices must lie in 0..{k - 1}")
    if idx.size == 0:
        raise ValueError("labels: no class to show")
    sub = cm[np.ix_(idx, idx)].astype(np.float64)
    if normalize:
        rows = sub.sum(axis=1, keepdims=True)
        sub = np.divide(sub, rows, out=np.zeros_like(sub), where=rows > 0)
    n = idx.size
    names = [_short(class_names[i], max_name_len) for i in idx]
    font = 8 if n <= 20 else (6 if n <= 40 else 5)
    side = float(np.clip(0.18 * n + 3.0, 5.0, 16.0))
    fig = new_figure((side + 1.5, side))
    ax = fig.add_subplot()
    im = ax.imshow(sub, cmap="Blues", vmin=0, vmax=1 if normalize else max(float(sub.max()), 1.0))
    ax.set_xticks(np.arange(n), names, rotation=90, fontsize=font)
    ax.set_yticks(np.arange(n), names, fontsize=font)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if n <= 20:
        thresh = (1 if normalize else sub.max()) / 2
        for i in range(n):
            for j in range(n):
                if sub[i, j] > 0:
                    ax.text(j, i, f"{sub[i, j]:.2f}" if normalize else f"{int(sub[i, j])}", ha="center",
                            va="center", fontsize=font - 1, color="white" if sub[i, j] > thresh else "black")
    fig.colorbar(im, ax=ax, fraction=0.04, pad=0.02, label="fraction of true class" if normalize else "count")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def _short(name: str, n: int) -> str:
    return name if len(name) <= n else name[: n - 1] + "…"


# --------------------------------------------------------------------------------------------------
# Feature maps

METHODS = ("pca", "tsne")


def _embed(x: np.ndarray, method: str, seed: int) -> np.ndarray:
    """[N, D] -> [N, 2]."""
    n, d = x.shape
    x = x.astype(np.float64)
    if n == 1:
        return np.zeros((1, 2))
    if method == "pca":
        k = min(2, n, d)
        out = PCA(n_components=k, random_state=seed).fit_transform(x)
        return np.pad(out, ((0, 0), (0, 2 - k)))  # too few samples or dims for 2 components: pad zeros
    if method == "tsne":
        if d > 50 and n > 50:  # the usual PCA pre-reduction: t-SNE cost grows with D
            x = PCA(n_components=50, random_state=seed).fit_transform(x)
        # perplexity must stay below N; ~N/3 keeps small sets from collapsing into one blob
        perplexity = float(min(30.0, max(1.0, (n - 1) / 3)))
        # Small sets: exact gradients in numpy. Barnes-Hut's OpenMP threads spin for seconds on a
        # CPU shared with other work, which costs far more than the O(N^2) exact method at this size.
        algo = "exact" if n <= 200 else "barnes_hut"
        return TSNE(n_components=2, perplexity=perplexity, init="pca", method=algo,
                    random_state=seed).fit_transform(x)
    raise ValueError(f"method: unknown {method!r} (known: {', '.join(METHODS)})")


def feature_map_coords(
    features: Mapping[str, Any], method: Sequence[str] = METHODS, seed: int = 0
) -> dict[str, dict[str, np.ndarray]]:
    """coords[name][method] = [N, 2] 2-D embedding of features[name] [N, D], one point per sample."""
    methods = (method,) if isinstance(method, str) else tuple(method)
    for m in methods:
        if m not in METHODS:
            raise ValueError(f"method: unknown {m!r} (known: {', '.join(METHODS)})")
    out: dict[str, dict[str, np.ndarray]] = {}
    for name, f in features.items():
        x = as_numpy(f)
        if x.ndim != 2 or x.shape[0] == 0:
            raise ValueError(f"features[{name!r}]: expected [N, D] with N > 0, got shape {list(x.shape)}")
        if not np.all(np.isfinite(x)):
            raise ValueError(f"features[{name!r}]: non-finite values")
        out[name] = {m: _embed(x, m, seed) for m in methods}
    return out


def _class_colors(classes: np.ndarray) -> dict[int, Any]:
    if classes.size <= 10:
        cmap, pos = mpl.colormaps["tab10"], np.arange(classes.size)
    elif classes.size <= 20:
        cmap, pos = mpl.colormaps["tab20"], np.arange(classes.size)
    else:
        cmap, pos = mpl.colormaps["turbo"], np.linspace(0.05, 0.95, classes.size)
    return {int(c): cmap(p) for c, p in zip(classes, pos, strict=True)}


def plot_feature_map(
    features: Mapping[str, Any],
    labels: Any,
    class_names: Sequence[str],
    method: Sequence[str] = METHODS,
    coords: Mapping[str, Mapping[str, np.ndarray]] | None = None,
    max_points: int | None = 2000,
    seed: int = 0,
    title: str | None = None,
) -> Figure:
    """Scatter maps of features: one column per entry of `features` ({"pretrained": F1, ...}, each
    [N, D]), one row per method (PCA, t-SNE), points coloured by action, a legend of action names.

    More than `max_points` samples are subsampled (the same samples for every entry) to bound t-SNE's
    cost. `coords` takes precomputed `feature_map_coords(...)` output instead of computing it.
    """
    methods = (method,) if isinstance(method, str) else tuple(method)
    y = _labels_array(labels, "labels")
    n = y.size
    for name, f in features.items():
        if len(f) != n:
            raise ValueError(f"features[{name!r}] has {len(f)} rows for {n} labels")
    if not features:
        raise ValueError("features: nothing to plot")
    if y.size and (y.min() < 0 or y.max() >= len(class_names)):
        raise ValueError(f"labels must lie in 0..{len(class_names) - 1}")
    keep = np.arange(n)
    if coords is None:
        if max_points is not None and n > max_points:
            keep = np.sort(np.random.default_rng(seed).choice(n, max_points, replace=False))
        coords = feature_map_coords({k: as_numpy(v)[keep] for k, v in features.items()}, methods, seed)
    y = y[keep]
    classes = np.unique(y)
    colors = _class_colors(classes)
    point_colors = [colors[int(c)] for c in y]
    size = 3.6
    fig = new_figure((size * len(features) + 2.6, size * len(methods) + 0.4))
    for c, name in enumerate(features):
        for r, m in enumerate(methods):
            xy = np.asarray(coords[name][m])
            ax = fig.add_subplot(len(methods), len(features), r * len(features) + c + 1)
            ax.set_gid(f"{name}/{m}")
            ax.scatter(xy[:, 0], xy[:, 1], c=point_colors, s=10 if len(y) <= 500 else 4, linewidths=0)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"{name} - {'PCA' if m == 'pca' else 't-SNE'}", fontsize=9)
    handles = [
        Line2D([], [], marker="o", linestyle="", color=colors[int(k)], label=_short(class_names[k], 24))
        for k in classes
    ]
    fig.legend(handles=handles, loc="center right", fontsize=6 if classes.size > 20 else 7,
               ncol=1 if classes.size <= 30 else 2, frameon=False, markerscale=0.8)
    sub = f" ({len(keep)} of {n} samples)" if len(keep) < n else ""
    if title or sub:
        fig.suptitle(f"{title or 'features'}{sub}", fontsize=10)
    legend_frac = (1.4 if classes.size <= 30 else 2.6) / (size * len(features) + 2.6)
    fig.subplots_adjust(left=0.02, right=1 - legend_frac - 0.02, bottom=0.03, top=0.9, wspace=0.08,
                        hspace=0.15)
    return fig

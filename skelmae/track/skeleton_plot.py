"""3D pictures of NTU skeleton sequences with matplotlib: a strip of frames, an animation.

Coordinates follow the Kinect camera space the data is stored in (x right, y up, z away from the
camera); matplotlib's 3D axes have z up, so a joint (x, y, z) is drawn at (x, z, y).

Figures are plain `Figure` objects on an Agg canvas, never pyplot's global figure manager: nothing
to close, safe in Ray workers, headless machines and notebooks alike (`fig.savefig(...)` to write).

Every bone is one `Line3D` whose gid is `"actor{m}/bone{b}"` (see `bone_artists`), so a test or a
caller can find what was drawn without reading pixels.
"""

from __future__ import annotations

import html as html_lib
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.animation import FuncAnimation, PillowWriter
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from data_pipeline.ntu import NUM_JOINTS

# 0-based (child, parent) pairs; a tree rooted at joint 0 (base of spine). Hands follow the Kinect v2
# SDK's body drawing: hand tip -> hand, thumb -> wrist.
NTU_BONES: tuple[tuple[int, int], ...] = (
    (1, 0),  # middle of spine -> base of spine
    (20, 1),  # spine-shoulder -> middle of spine
    (2, 20),  # neck -> spine-shoulder
    (3, 2),  # head -> neck
    (4, 20),  # left shoulder
    (5, 4),  # left elbow
    (6, 5),  # left wrist
    (7, 6),  # left hand
    (21, 7),  # left hand tip
    (22, 6),  # left thumb
    (8, 20),  # right shoulder
    (9, 8),  # right elbow
    (10, 9),  # right wrist
    (11, 10),  # right hand
    (23, 11),  # right hand tip
    (24, 10),  # right thumb
    (12, 0),  # left hip
    (13, 12),  # left knee
    (14, 13),  # left ankle
    (15, 14),  # left foot
    (16, 0),  # right hip
    (17, 16),  # right knee
    (18, 17),  # right ankle
    (19, 18),  # right foot
)

DEFAULT_VIEW: tuple[float, float] = (15.0, -70.0)  # (elevation, azimuth) in degrees
ACTOR_COLORS: tuple[str, ...] = ("tab:blue", "tab:red")
MASKED_COLOR = "0.6"  # grey for masked joints and bones in the reconstruction figure


# --------------------------------------------------------------------------------------------------
# Array helpers


def as_numpy(x: Any) -> np.ndarray:
    """A numpy float array from a numpy array, a torch tensor (any device) or nested lists."""
    if hasattr(x, "detach"):  # torch.Tensor, without importing torch here
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float32)


def check_sequence(data: Any, name: str = "data") -> np.ndarray:
    """`data` as a float32 [T, M, V, 3] array; a single-actor [T, V, 3] gets an actor axis."""
    arr = as_numpy(data)
    if arr.ndim == 3:
        arr = arr[:, None]
    if arr.ndim != 4 or arr.shape[2] != NUM_JOINTS or arr.shape[3] != 3:
        raise ValueError(f"{name}: expected shape [T, M, {NUM_JOINTS}, 3], got {list(arr.shape)}")
    if arr.shape[0] == 0:
        raise ValueError(f"{name}: no frames")
    return arr


def present(data: np.ndarray) -> np.ndarray:
    """[T, M] bool: the actor slot holds a body in that frame (all-zero slots are padding)."""
    return np.any(data != 0, axis=(2, 3))


def pick_frames(data: np.ndarray, num_frames: int) -> np.ndarray:
    """Up to `num_frames` evenly spaced indices among the frames that hold any body."""
    if num_frames < 1:
        raise ValueError(f"num_frames must be >= 1, got {num_frames}")
    nonempty = np.flatnonzero(present(data).any(axis=1))
    if nonempty.size == 0:
        raise ValueError("the sequence has no non-zero frame to draw")
    k = min(num_frames, nonempty.size)
    return nonempty[np.round(np.linspace(0, nonempty.size - 1, k)).astype(int)]


def to_plot_xyz(joints: np.ndarray) -> np.ndarray:
    """[..., 3] camera xyz -> [..., 3] plot coordinates (x, depth, up)."""
    return joints[..., [0, 2, 1]]


def cube_limits(*arrays: np.ndarray, margin: float = 0.05) -> np.ndarray:
    """[3, 2] equal-length (lo, hi) plot limits around the non-padding joints of all arrays [T,M,V,3]."""
    points = []
    for a in arrays:
        mask = present(a)
        points.append(to_plot_xyz(a[mask]).reshape(-1, 3))
    pts = np.concatenate(points) if points else np.zeros((0, 3))
    if pts.size == 0:
        return np.array([[-1.0, 1.0]] * 3)
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    centre = (lo + hi) / 2
    half = max(float((hi - lo).max()) / 2, 1e-3) * (1 + margin)
    return np.stack([centre - half, centre + half], axis=1)


def setup_axes(ax, limits: np.ndarray, view: tuple[float, float]) -> None:
    """Same limits and a cubic box on every panel, so sizes compare across a strip."""
    ax.set_xlim(*limits[0])
    ax.set_ylim(*limits[1])
    ax.set_zlim(*limits[2])
    ax.set_box_aspect((1, 1, 1), zoom=1.2)  # 3D axes leave wide empty margins otherwise
    ax.view_init(elev=view[0], azim=view[1])
    ax.set_xticklabels([])
    ax.set_yticklabels([])
    ax.set_zticklabels([])
    ax.tick_params(length=0)


# --------------------------------------------------------------------------------------------------
# Drawing


def new_figure(figsize: tuple[float, float], dpi: float = 100) -> Figure:
    """A Figure on its own Agg canvas (no pyplot state, no backend switch)."""
    fig = Figure(figsize=figsize, dpi=dpi)
    FigureCanvasAgg(fig)
    return fig


def draw_skeleton(
    ax,
    joints: np.ndarray,
    color: str,
    actor: int,
    masked: np.ndarray | None = None,
    linewidth: float = 2.0,
    marker_size: float = 8.0,
) -> list:
    """Draw one body (joints [V, 3], camera xyz) on a 3D axes; returns its 24 bone Line3D artists.

    `masked` [V] bool marks hidden joints: they are drawn as grey x markers, and a bone with a masked
    end as a dashed grey line; visible joints and bones keep the actor's colour.
    """
    p = to_plot_xyz(joints)  # [V, 3]
    hidden = np.zeros(NUM_JOINTS, bool) if masked is None else np.asarray(masked, bool)
    lines = []
    for b, (child, parent) in enumerate(NTU_BONES):
        seg = p[[child, parent]]
        bad = hidden[child] or hidden[parent]
        (line,) = ax.plot(
            seg[:, 0], seg[:, 1], seg[:, 2],
            color=MASKED_COLOR if bad else color,
            linestyle="--" if bad else "-",
            linewidth=linewidth * (0.6 if bad else 1.0),
        )
        line.set_gid(f"actor{actor}/bone{b}")
        lines.append(line)
    vis = ~hidden
    if vis.any():
        ax.scatter(p[vis, 0], p[vis, 1], p[vis, 2], color=color, s=marker_size, depthshade=False)
    if hidden.any():
        ax.scatter(p[hidden, 0], p[hidden, 1], p[hidden, 2], color=MASKED_COLOR, marker="x",
                   s=marker_size * 3, linewidths=1.2, depthshade=False)
    return lines


def bone_artists(ax) -> dict[int, list]:
    """The bone lines drawn on `ax` by `draw_skeleton`, by actor slot."""
    out: dict[int, list] = {}
    for line in ax.lines:
        gid = line.get_gid() or ""
        if gid.startswith("actor") and "/bone" in gid:
            out.setdefault(int(gid[len("actor"):gid.index("/")]), []).append(line)
    return out


def plot_sequence_strip(
    data: Any,
    num_frames: int = 8,
    view: tuple[float, float] = DEFAULT_VIEW,
    title: str | None = None,
    actor_colors: Sequence[str] = ACTOR_COLORS,
    panel_size: float = 2.2,
) -> Figure:
    """A row of `num_frames` evenly spaced frames of data [T, M, V, 3], one 3D panel per frame.

    Up to two actors in `actor_colors`; all-zero actor slots and empty frames are not drawn; all
    panels share the same cubic limits.
    """
    arr = check_sequence(data)
    frames = pick_frames(arr, num_frames)
    limits = cube_limits(arr)
    is_there = present(arr)  # [T, M]
    fig = new_figure((panel_size * len(frames), panel_size + (0.4 if title else 0.1)))
    for i, t in enumerate(frames):
        ax = fig.add_subplot(1, len(frames), i + 1, projection="3d")
        setup_axes(ax, limits, view)
        for m in range(min(arr.shape[1], len(actor_colors))):
            if is_there[t, m]:
                draw_skeleton(ax, arr[t, m], actor_colors[m], m)
        ax.set_title(f"t={t}", fontsize=8, pad=0)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.subplots_adjust(left=0, right=1, bottom=0, top=0.86 if title else 0.93, wspace=0)
    return fig


def save_animation(
    data: Any,
    path: str,
    view: tuple[float, float] = DEFAULT_VIEW,
    fps: int = 15,
    title: str | None = None,
    actor_colors: Sequence[str] = ACTOR_COLORS,
    max_frames: int | None = 150,
    dpi: int = 80,
) -> str:
    """Write an animation of data [T, M, V, 3] to `path`: `.gif` (Pillow) or self-contained `.html`.

    Long sequences are subsampled evenly to `max_frames` frames to keep files small. Returns `path`.
    """
    ext = os.path.splitext(path)[1].lower()
    if ext not in (".gif", ".html"):
        raise ValueError(f"{path}: animation format is chosen by extension, .gif or .html (got {ext!r})")
    if fps <= 0:
        raise ValueError(f"fps must be > 0, got {fps}")
    arr = check_sequence(data)
    frames = pick_frames(arr, max_frames or arr.shape[0])
    is_there = present(arr)
    fig = new_figure((4, 4), dpi=dpi)
    ax = fig.add_subplot(projection="3d")
    setup_axes(ax, cube_limits(arr), view)
    if title:
        ax.set_title(title, fontsize=9)
    actors = range(min(arr.shape[1], len(actor_colors)))
    lines = {m: draw_skeleton(ax, arr[frames[0], m], actor_colors[m], m) for m in actors}
    label = ax.text2D(0.02, 0.02, "", transform=ax.transAxes, fontsize=8)
    # joint markers stay from the first frame otherwise; bones carry the motion
    for coll in list(ax.collections):
        coll.remove()

    def update(i: int):
        t = frames[i]
        for m in actors:
            p = to_plot_xyz(arr[t, m])
            for line, (c, par) in zip(lines[m], NTU_BONES, strict=True):
                line.set_data_3d(p[[c, par], 0], p[[c, par], 1], p[[c, par], 2])
                line.set_visible(bool(is_there[t, m]))
        label.set_text(f"t={t}")
        return [*(ln for ls in lines.values() for ln in ls), label]

    anim = FuncAnimation(fig, update, frames=len(frames), interval=1000 / fps, blit=False)
    if ext == ".gif":
        anim.save(path, writer=PillowWriter(fps=fps), dpi=dpi)
    else:
        html = anim.to_jshtml(fps=fps, default_mode="loop")
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>"
                     f"{html_lib.escape(title or 'skeleton')}</title></head><body>\n{html}\n</body></html>\n")
    return path

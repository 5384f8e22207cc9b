"""The comparison report's plots: score against mask ratio, and per-run curves over epochs."""

from __future__ import annotations

import io

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from mlflow.tracking import MlflowClient

STRATEGY_PARAM = "model.mask_strategy"
# Candidate x-axis params per strategy; the first one that varies within the strategy's runs wins.
RATIO_PARAMS = {
    "joint": ("model.joint_mask_ratio", "model.mask_ratio"),
    "frame": ("model.frame_mask_ratio", "model.mask_ratio"),
}
DEFAULT_RATIO_PARAMS = ("model.mask_ratio",)
MAX_LEGEND_RUNS = 16


def png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    return buf.getvalue()


def _label(row: pd.Series) -> str:
    name = row["run_name"] if isinstance(row["run_name"], str) and row["run_name"] else row["run_id"][:8]
    return f"{name} (best)" if row["is_best"] else name


def _ratio_axis(group: pd.DataFrame, strategy: str) -> tuple[pd.Series | None, str | None]:
    numeric = {}
    for p in RATIO_PARAMS.get(strategy, DEFAULT_RATIO_PARAMS):
        col = f"params.{p}"
        if col in group.columns:
            numeric[p] = pd.to_numeric(group[col], errors="coerce")
    for p, s in numeric.items():
        if s.nunique() > 1:
            return s, p
    for p, s in numeric.items():
        if s.notna().any():
            return s, p
    return None, None


def score_vs_mask_ratio_figure(runs: pd.DataFrame) -> Figure | None:
    """Pretraining runs' score against mask ratio, one series per masking strategy; None without data.

    Only pretraining runs: a fine-tune run inherits the mask params of its config, but its score is a
    different measure and would sit on the same axis as if comparable."""
    col = f"params.{STRATEGY_PARAM}"
    if col not in runs.columns:
        return None
    # A failed run's score is from an unfinished training, so it would mislead the trend.
    rows = runs[(runs["group"] == "pretrain") & (runs["status"] != "FAILED") & runs["score"].notna()
                & runs[col].notna()]
    if rows.empty:
        return None
    fig = Figure(figsize=(7.5, 4.5))
    ax = fig.add_subplot()
    plotted = False
    for strategy, group in rows.groupby(col, sort=True):
        x, param = _ratio_axis(group, str(strategy))
        if x is None:
            continue
        ok = x.notna()
        xs, ys = x[ok].to_numpy(float), group.loc[ok, "score"].to_numpy(float)
        pts = ax.scatter(xs, ys, s=36, alpha=0.8, label=f"{strategy} ({param}, n={len(xs)})")
        # The mean per ratio shows the trend when a sweep repeats a ratio with several seeds/lrs.
        means = pd.Series(ys).groupby(xs).mean()
        ax.plot(means.index.to_numpy(), means.to_numpy(), color=pts.get_facecolor()[0], alpha=0.6)
        best = group.loc[ok, "is_best"].to_numpy(bool)
        if best.any():
            ax.scatter(xs[best], ys[best], s=260, marker="*", color="#d9a400", edgecolor="black",
                       zorder=5, label="best pretraining run")
        plotted = True
    if not plotted:
        return None
    ax.set_xlabel("mask ratio")
    ax.set_ylabel("pretraining score (kNN accuracy, last logged)")
    ax.set_title("Pretraining score vs mask ratio per strategy")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    return fig


def histories(client: MlflowClient, runs: pd.DataFrame, metric_of) -> dict[str, list[tuple[int, float]]]:
    """run ID -> sorted (step, value) of the metric `metric_of(row)` names, for runs that logged it."""
    out = {}
    for _, row in runs.iterrows():
        metric = metric_of(row)
        if not metric or not pd.notna(row.get(f"metrics.{metric}", np.nan)):
            continue
        points = sorted((m.step, m.value) for m in client.get_metric_history(row["run_id"], metric))
        if points:
            out[row["run_id"]] = points
    return out


def curves_figure(runs: pd.DataFrame, hist: dict[str, list[tuple[int, float]]], ylabel: str,
                  title: str, label_suffix=None) -> Figure | None:
    """One line per run (step = epoch), the best run drawn thick; None when no run has the metric."""
    if not hist:
        return None
    fig = Figure(figsize=(9, 4.5))
    ax = fig.add_subplot()
    many = len(hist) > MAX_LEGEND_RUNS
    cmap = matplotlib.colormaps["tab20" if len(runs) > 10 else "tab10"]
    for i, (_, row) in enumerate(runs.iterrows()):
        points = hist.get(row["run_id"])
        if not points:
            continue
        steps, values = zip(*points, strict=True)
        failed = row["status"] == "FAILED"
        label = _label(row) + (" (FAILED)" if failed else "") + (label_suffix(row) if label_suffix else "")
        # Colour by the run's table position, so one run has one colour in every curve figure.
        ax.plot(steps, values, color=cmap(i % cmap.N), linestyle="--" if failed else "-",
                marker="o" if len(points) < 30 else None, markersize=3,
                linewidth=3.0 if row["is_best"] else 1.2, zorder=4 if row["is_best"] else 2,
                label=label if (row["is_best"] or not many) else None)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    return fig


def report_figures(client: MlflowClient, runs: pd.DataFrame) -> dict[str, bytes]:
    """figure key -> PNG: score vs mask ratio, pretraining loss and score curves, fine-tune accuracy
    curves; a key is absent when no run has its data."""
    pre = runs[runs["group"] == "pretrain"]
    fine = runs[runs["group"] == "finetune"]
    figs = {
        "score_vs_mask_ratio": score_vs_mask_ratio_figure(runs),
        "loss_curves": curves_figure(pre, histories(client, pre, lambda r: "loss"), "reconstruction loss",
                                     "Pretraining loss per run"),
        "score_curves": curves_figure(pre, histories(client, pre, lambda r: r["score_metric"]),
                                      "pretraining score (kNN accuracy)", "Pretraining score per run",
                                      label_suffix=lambda r: f" [{r['score_metric']}]"),
        "finetune_curves": curves_figure(fine, histories(client, fine, lambda r: r["score_metric"]),
                                         "validation accuracy", "Fine-tune validation accuracy per run"),
    }
    return {k: png(f) for k, f in figs.items() if f is not None}

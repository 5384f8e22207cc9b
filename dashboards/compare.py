"""Compare the runs of an MLflow experiment (or of one sweep) on one self-contained HTML page.

    python -m dashboards.compare --experiment NAME [--out report.html] [--tracking-uri URI]
                                 [--parent-run RUN_ID] [--no-log]

The page holds a table of the runs (params, metrics, duration, status) with the best run
highlighted, the downstream score against mask ratio per masking strategy, loss and score curves
per run, and a "Best run" section that embeds the best run's own pictures (reconstructions,
confusion matrix, feature maps) where it logged any. With `--parent-run` the report covers that
sweep's parent and trials, and its figures and HTML are logged under `report/` of the parent run,
next to MLflow's built-in run comparison.

Downstream score of a run = the last logged value of the first metric it has among
SCORE_METRICS; the best run is the highest score among non-sweep runs that did not fail.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import matplotlib
import mlflow
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from mlflow.tracking._tracking_service import utils as _tracking_utils

from dashboards import report_html as H
from skelmae.track.conventions import resolve_tracking_uri

# First metric a run has, in this order, is its downstream score.
SCORE_METRICS = ("score", "knn_acc", "linear_acc", "val_acc")
# Shown in the table even when equal across runs (the rest of the equal params go below it).
KEY_PARAMS = ("model.mask_strategy", "model.mask_ratio", "model.joint_mask_ratio", "model.frame_mask_ratio",
              "model.preset", "optim.lr", "seed")
STRATEGY_PARAM = "model.mask_strategy"
# Candidate x-axis params per strategy; the first one that varies within the strategy's runs wins.
RATIO_PARAMS = {
    "joint": ("model.joint_mask_ratio", "model.mask_ratio"),
    "frame": ("model.frame_mask_ratio", "model.mask_ratio"),
}
DEFAULT_RATIO_PARAMS = ("model.mask_ratio",)
# Artifact folders of the best run whose PNGs the report embeds (newest MAX_IMAGES_PER_DIR by name).
BEST_RUN_ARTIFACT_DIRS = ("reconstructions", "confusion", "features")
MAX_IMAGES_PER_DIR = 3
MAX_LEGEND_RUNS = 16
REPORT_ARTIFACT_DIR = "report"


class ReportError(Exception):
    """The report cannot be made (unknown experiment, no runs, unknown parent run); str(e) says why."""


@dataclass
class Report:
    experiment: str
    tracking_uri: str
    html: str
    figures: dict[str, bytes]  # figure key -> PNG bytes
    runs: pd.DataFrame  # one row per run, in table order; columns described in runs_frame()
    best_run_id: str | None
    best_run_images: dict[str, bytes] = field(default_factory=dict)  # artifact path -> PNG bytes
    parent_run_id: str | None = None


# ---------------------------------------------------------------------------- loading runs
def _check_store(uri: str, experiment: str) -> None:
    # MLflow would create an empty sqlite database at a mistyped path; say it is missing instead.
    if uri.startswith("sqlite:///"):
        db = Path(uri[len("sqlite:///"):])
        if not db.is_file():
            raise ReportError(f"experiment '{experiment}' not found in {uri} (no database file at {db})")


@contextmanager
def _tracking_uri_set_to(uri: str):
    """mlflow.search_runs reads the global tracking URI: set it for the call, then restore both it and
    $MLFLOW_TRACKING_URI (mlflow.set_tracking_uri writes the variable, and MLflow's own
    `_use_tracking_uri` unsets it on exit, which would cut other code off its store)."""
    old_global = _tracking_utils._tracking_uri
    old_env = os.environ.get("MLFLOW_TRACKING_URI")
    try:
        mlflow.set_tracking_uri(uri)
        yield
    finally:
        mlflow.set_tracking_uri(old_global)
        if old_env is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = old_env


def load_runs(experiment: str, tracking_uri: str, parent_run_id: str | None = None) -> pd.DataFrame:
    """`mlflow.search_runs` frame of the experiment (or of one sweep: the parent and its children)."""
    _check_store(tracking_uri, experiment)
    client = MlflowClient(tracking_uri)
    exp = client.get_experiment_by_name(experiment)
    if exp is None or exp.lifecycle_stage == "deleted":
        raise ReportError(f"experiment '{experiment}' not found in {tracking_uri}")
    with _tracking_uri_set_to(tracking_uri):
        df = mlflow.search_runs(experiment_names=[experiment], output_format="pandas")
    if df.empty:
        raise ReportError(f"experiment '{experiment}' has no runs in {tracking_uri}")
    if parent_run_id:
        is_parent = df["run_id"] == parent_run_id
        if not is_parent.any():
            raise ReportError(
                f"run '{parent_run_id}' not found in experiment '{experiment}' ({tracking_uri})")
        parents = _col(df, "tags.mlflow.parentRunId")
        df = df[is_parent | (parents == parent_run_id)].reset_index(drop=True)
    return df


def _col(df: pd.DataFrame, name: str) -> pd.Series:
    return df[name] if name in df.columns else pd.Series([None] * len(df), index=df.index, dtype=object)


def _downstream_score(df: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    score = pd.Series(np.nan, index=df.index, dtype=float)
    which = pd.Series([None] * len(df), index=df.index, dtype=object)
    for m in SCORE_METRICS:
        col = f"metrics.{m}"
        if col not in df.columns:
            continue
        take = score.isna() & df[col].notna()
        score[take] = df.loc[take, col].astype(float)
        which[take] = m
    return score, which


def runs_frame(df: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, str]]:
    """search_runs frame -> (table frame, params equal across all runs).

    Table columns: run_id, run_name, job_kind, parent_run_id, status, start_time, end_time,
    duration_s, score, score_metric, is_best, then `params.*` (varying or KEY_PARAMS) and
    `metrics.*` (last logged values), rows ordered sweep parents first, failed runs last, else by score.
    """
    score, score_metric = _downstream_score(df)
    out = pd.DataFrame({
        "run_id": df["run_id"],
        "run_name": _col(df, "tags.mlflow.runName"),
        "job_kind": _col(df, "tags.job_kind"),
        "parent_run_id": _col(df, "tags.mlflow.parentRunId"),
        "status": df["status"],
        "start_time": df["start_time"],
        "end_time": df["end_time"],
        "duration_s": (df["end_time"] - df["start_time"]).dt.total_seconds(),
        "score": score,
        "score_metric": score_metric,
    })
    candidates = (out["job_kind"] != "sweep") & out["score"].notna()
    finished = candidates & (out["status"] != "FAILED")
    pool = out["score"][finished] if finished.any() else out["score"][candidates]
    best = pool.idxmax() if len(pool) else None
    # A sweep's own choice wins: Tune ranks by the scores it received, and a trial stopped early can
    # log one more score to MLflow than Tune saw, so re-ranking here could pick a trial whose linear
    # eval and champion fine-tune were never run.
    chosen = _col(df, "tags.best_trial_run_id")[out["job_kind"] == "sweep"].dropna()
    chosen = out.index[out["run_id"].isin(chosen)]
    if len(chosen) == 1:
        best = chosen[0]
    out["is_best"] = out.index == best

    constant: dict[str, str] = {}
    param_cols = sorted(c for c in df.columns if c.startswith("params."))
    keep = []
    for c in param_cols:
        values = df[c].dropna()
        if c[len("params."):] in KEY_PARAMS or values.nunique() > 1:
            keep.append(c)
        elif len(values):
            constant[c[len("params."):]] = str(values.iloc[0])
    metric_cols = sorted((c for c in df.columns if c.startswith("metrics.")),
                         key=lambda c: (c[len("metrics."):] not in SCORE_METRICS, c))
    out = pd.concat([out, df[keep], df[metric_cols]], axis=1)

    order = pd.DataFrame({"trial": out["job_kind"] != "sweep", "failed": out["status"] == "FAILED",
                          "score": -out["score"].fillna(-np.inf), "start": out["start_time"]})
    out = out.loc[order.sort_values(["trial", "failed", "score", "start"]).index].reset_index(drop=True)
    return out, constant


# ---------------------------------------------------------------------------- figures
def _png(fig: Figure) -> bytes:
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
    """Downstream score against mask ratio, one series per masking strategy; None without data."""
    col = f"params.{STRATEGY_PARAM}"
    if col not in runs.columns:
        return None
    # A failed run's score is from an unfinished training, so it would mislead the trend.
    rows = runs[(runs["job_kind"] != "sweep") & (runs["status"] != "FAILED") & runs["score"].notna()
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
                       zorder=5, label="best run")
        plotted = True
    if not plotted:
        return None
    ax.set_xlabel("mask ratio")
    ax.set_ylabel("downstream score (last logged)")
    ax.set_title("Downstream score vs mask ratio per strategy")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    return fig


def _histories(client: MlflowClient, runs: pd.DataFrame, metric_of) -> dict[str, list[tuple[int, float]]]:
    out = {}
    for _, row in runs.iterrows():
        metric = metric_of(row)
        if not metric or not pd.notna(row.get(f"metrics.{metric}", np.nan)):
            continue
        hist = client.get_metric_history(row["run_id"], metric)
        points = sorted((m.step, m.value) for m in hist)
        if points:
            out[row["run_id"]] = points
    return out


def curves_figure(runs: pd.DataFrame, histories: dict[str, list[tuple[int, float]]], ylabel: str,
                  title: str, label_suffix=None) -> Figure | None:
    """One line per run (step = epoch), the best run drawn thick; None when no run has the metric."""
    if not histories:
        return None
    fig = Figure(figsize=(9, 4.5))
    ax = fig.add_subplot()
    many = len(histories) > MAX_LEGEND_RUNS
    cmap = matplotlib.colormaps["tab20" if len(runs) > 10 else "tab10"]
    for i, (_, row) in enumerate(runs.iterrows()):
        points = histories.get(row["run_id"])
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


# ---------------------------------------------------------------------------- best run's pictures
def _png_artifacts(client: MlflowClient, run_id: str, path: str, depth: int = 3) -> list[str]:
    try:
        entries = client.list_artifacts(run_id, path)
    except (MlflowException, OSError):
        return []
    found = []
    for e in entries:
        if e.is_dir and depth > 0:
            found += _png_artifacts(client, run_id, e.path, depth - 1)
        elif e.path.lower().endswith(".png"):
            found.append(e.path)
    return found


def best_run_images(run_id: str, tracking_uri: str) -> dict[str, bytes]:
    """PNG artifacts under BEST_RUN_ARTIFACT_DIRS (newest few per folder, by name) of the run and of the
    evaluation runs linked to it (tag `pretrain_run_id`: its linear eval's confusion matrix and feature
    map, a fine-tune's confusion matrix)."""
    client = MlflowClient(tracking_uri)
    run = client.get_run(run_id)
    linked = client.search_runs([run.info.experiment_id], filter_string=f"tags.pretrain_run_id = '{run_id}'",
                                order_by=["attributes.start_time DESC"], max_results=5)
    images: dict[str, bytes] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for rid in [run_id] + [r.info.run_id for r in linked]:
            for d in BEST_RUN_ARTIFACT_DIRS:
                for path in sorted(_png_artifacts(client, rid, d))[-MAX_IMAGES_PER_DIR:]:
                    if path in images:
                        continue
                    local = mlflow.artifacts.download_artifacts(run_id=rid, artifact_path=path,
                                                                dst_path=f"{tmp}/{rid}", tracking_uri=tracking_uri)
                    images[path] = Path(local).read_bytes()
    return images


# ---------------------------------------------------------------------------- page
_FIGURE_TEXT = {
    "score_vs_mask_ratio": ("Downstream score against mask ratio per masking strategy",
                            "Each point is a finished run (last logged score); the line joins the mean "
                            "per ratio; the star is the best run."),
    "loss_curves": ("Training loss per epoch for each run",
                    "Training loss per epoch; best run thick, failed runs dashed."),
    "score_curves": ("Downstream score per evaluation epoch for each run",
                     "The run's score metric ([name] in the legend) at each evaluation epoch; "
                     "best run thick, failed runs dashed."),
}


def _display_frame(runs: pd.DataFrame) -> pd.DataFrame:
    def fmt_time(t):
        return t.strftime("%Y-%m-%d %H:%M:%S") if pd.notna(t) else None

    def group(c: str) -> str:
        return "params" if c.startswith("params.") else "metrics (last logged value)"

    cols = {
        ("run", "run"): runs["run_name"],
        ("run", "id"): runs["run_id"].str[:8],
        ("run", "kind"): runs["job_kind"],
        ("run", "status"): runs["status"],
        ("run", "start (UTC)"): runs["start_time"].map(fmt_time),
        ("run", "duration (s)"): runs["duration_s"].map(lambda s: f"{s:,.1f}" if pd.notna(s) else None),
        ("downstream score", "score (last logged value)"): runs["score"],
        ("downstream score", "from metric"): runs["score_metric"],
    }
    for c in runs.columns:
        if c.startswith(("params.", "metrics.")):
            cols[(group(c), c.split(".", 1)[1])] = runs[c]
    frame = pd.DataFrame(cols)
    # na_rep covers NaN only; None in text columns would print as "None".
    for c in frame.columns:
        if not pd.api.types.is_numeric_dtype(frame[c]):
            frame[c] = frame[c].where(frame[c].notna(), "—")
    frame.columns = pd.MultiIndex.from_tuples(frame.columns)
    return frame


def _sweep_summaries(client: MlflowClient, runs: pd.DataFrame, best_run_id: str | None) -> list[str]:
    parts = []
    for _, row in runs[runs["job_kind"] == "sweep"].iterrows():
        tags = client.get_run(row["run_id"]).data.tags
        params = client.get_run(row["run_id"]).data.params
        items = [("sweep run", f"{row['run_name']} ({row['run_id']})"),
                 ("objective", params.get("metric", "score")),
                 ("trials in this report", str(int((runs["parent_run_id"] == row["run_id"]).sum())))]
        tune_best = tags.get("best_trial_run_id")
        if tune_best:
            agree = "same as the best run here" if tune_best == best_run_id else (
                "differs from the best run here (with several sweeps on one page, the best run is the "
                "highest last logged score of finished runs)")
            items.append(("Tune's best trial", f"{tune_best}: {agree}"))
        parts.append(H.summary_html(items))
        if tags.get("best_config"):
            try:
                text = json.dumps(json.loads(tags["best_config"]), indent=2, sort_keys=True)
            except ValueError:
                text = tags["best_config"]
            parts.append(f"<p>Best config (tag <code>best_config</code>):</p><pre>{H.esc(text)}</pre>")
    return parts


def _render(experiment: str, uri: str, parent_run_id: str | None, runs: pd.DataFrame, constant: dict,
            figures: dict[str, bytes], images: dict[str, bytes], best_run_id: str | None,
            client: MlflowClient) -> str:
    status_counts = ", ".join(f"{n} {s}" for s, n in runs["status"].value_counts().sort_index().items())
    summary = [("experiment", experiment), ("tracking URI", uri),
               ("runs", f"{len(runs)} ({status_counts})"),
               ("generated", datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"))]
    if parent_run_id:
        summary.insert(2, ("sweep parent run", parent_run_id))
    if best_run_id:
        b = runs[runs["run_id"] == best_run_id].iloc[0]
        summary.append(("best run",
                        f"{b['run_name']} ({best_run_id}): {b['score_metric']} = {b['score']:.4g}"))
    else:
        summary.append(("best run", "none (no finished run logged a downstream score)"))
    sections = [f"<h1>Run comparison: {H.esc(experiment)}</h1>", H.summary_html(summary)]
    sections += _sweep_summaries(client, runs, best_run_id)

    sections.append("<h2>Runs</h2>")
    sections.append(
        "<p class=\"note\">Downstream score = the last logged value of the first metric the run has among "
        f"{', '.join(SCORE_METRICS)}. The best run (highlighted) has the highest score among runs that are "
        "not sweep parents and did not fail. Metric columns show each metric's last logged value.</p>")
    sections.append(H.runs_table_html(_display_frame(runs), runs["run_id"].tolist(), best_run_id,
                                      runs["status"].tolist()))
    if constant:
        rows = "".join(f"<tr><td>{H.esc(k)}</td><td>{H.esc(v)}</td></tr>"
                       for k, v in sorted(constant.items()))
        sections.append(f"<details><summary>Params equal across all runs ({len(constant)})</summary>"
                        f'<table class="summary">{rows}</table></details>')

    sections.append("<h2>Figures</h2>")
    for key, (alt, caption) in _FIGURE_TEXT.items():
        if key in figures:
            sections.append(H.figure_html(f"fig-{key}", figures[key], alt, caption))
        else:
            sections.append(f'<p class="note" id="missing-{key}">No data for "{H.esc(alt)}".</p>')

    sections.append('<h2 id="best-run">Best run</h2>')
    if best_run_id is None:
        sections.append('<p class="note">No best run.</p>')
    else:
        params = client.get_run(best_run_id).data.params
        rows = "".join(f"<tr><td>{H.esc(k)}</td><td>{H.esc(v)}</td></tr>" for k, v in sorted(params.items()))
        sections.append(f"<details><summary>All params of the best run ({len(params)})</summary>"
                        f'<table class="summary">{rows}</table></details>')
        if images:
            gallery = [H.figure_html(H.element_id("best", Path(p).with_suffix("").as_posix()), png,
                                     f"best run artifact {p}", p) for p, png in images.items()]
            sections.append(f'<div class="gallery">{"".join(gallery)}</div>')
        else:
            dirs = ", ".join(f"{d}/" for d in BEST_RUN_ARTIFACT_DIRS)
            sections.append(f'<p class="note">The best run logged no PNG artifacts under {H.esc(dirs)}.</p>')
    return H.page_html(f"Run comparison: {experiment}", sections)


def build_report(experiment: str, tracking_uri: str | None = None,
                 parent_run_id: str | None = None) -> Report:
    """Read the experiment's runs (or one sweep's) from MLflow and build the page and its figures.

    Raises ReportError for an unknown experiment, one with no runs, or a parent run not in it.
    """
    uri = resolve_tracking_uri(tracking_uri or "")
    df = load_runs(experiment, uri, parent_run_id)
    runs, constant = runs_frame(df)
    best = runs.loc[runs["is_best"], "run_id"]
    best_run_id = str(best.iloc[0]) if len(best) else None

    client = MlflowClient(uri)
    trials = runs[runs["job_kind"] != "sweep"]
    figures: dict[str, bytes] = {}
    fig = score_vs_mask_ratio_figure(runs)
    if fig is not None:
        figures["score_vs_mask_ratio"] = _png(fig)
    fig = curves_figure(trials, _histories(client, trials, lambda r: "loss"), "loss",
                        "Training loss per run")
    if fig is not None:
        figures["loss_curves"] = _png(fig)
    fig = curves_figure(trials, _histories(client, trials, lambda r: r["score_metric"]), "downstream score",
                        "Downstream score per run", label_suffix=lambda r: f" [{r['score_metric']}]")
    if fig is not None:
        figures["score_curves"] = _png(fig)
    images = best_run_images(best_run_id, uri) if best_run_id else {}

    page = _render(experiment, uri, parent_run_id, runs, constant, figures, images, best_run_id, client)
    return Report(experiment=experiment, tracking_uri=uri, html=page, figures=figures, runs=runs,
                  best_run_id=best_run_id, best_run_images=images, parent_run_id=parent_run_id)


def write_report(report: Report, out_path: str | Path) -> Path:
    out = Path(out_path).expanduser().resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report.html, encoding="utf-8")
    return out


def log_report_to_run(report: Report, run_id: str, tracking_uri: str | None = None) -> list[str]:
    """Log the figures (PNG) and the HTML page under `report/` of `run_id`; returns the artifact paths."""
    uri = resolve_tracking_uri(tracking_uri or report.tracking_uri)
    client = MlflowClient(uri)
    try:
        client.get_run(run_id)
    except MlflowException:
        raise ReportError(f"run '{run_id}' not found in {uri}") from None
    with tempfile.TemporaryDirectory() as tmp:
        names = ["report.html"]
        (Path(tmp) / "report.html").write_text(report.html, encoding="utf-8")
        for key, png in report.figures.items():
            (Path(tmp) / f"{key}.png").write_bytes(png)
            names.append(f"{key}.png")
        client.log_artifacts(run_id, tmp, REPORT_ARTIFACT_DIR)
    return [f"{REPORT_ARTIFACT_DIR}/{n}" for n in names]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m dashboards.compare", description=__doc__.split("\n\n")[0])
    p.add_argument("--experiment", required=True, help="MLflow experiment name")
    p.add_argument("--out", default="report.html", help="HTML file to write (default: report.html)")
    p.add_argument("--tracking-uri", default="",
                   help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI, else sqlite:///<cwd>/mlflow.db)")
    p.add_argument("--parent-run", default=None,
                   help="sweep parent run ID: report only its trials, and log the report under its report/")
    p.add_argument("--no-log", action="store_true", help="with --parent-run, do not log the report to it")
    args = p.parse_args(argv)
    try:
        report = build_report(args.experiment, args.tracking_uri or None, args.parent_run)
        out = write_report(report, args.out)
        logged = []
        if args.parent_run and not args.no_log:
            logged = log_report_to_run(report, args.parent_run, report.tracking_uri)
    except ReportError as e:
        print(f"compare: error: {e}", file=sys.stderr)
        return 1
    print(f"wrote {out}: {len(report.runs)} runs, best run {report.best_run_id or 'none'}")
    if logged:
        print(f"logged {len(logged)} artifacts under {REPORT_ARTIFACT_DIR}/ of run {args.parent_run}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

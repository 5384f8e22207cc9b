"""Build the run-comparison page from MLflow and render it with a Jinja2 template (autoescaped: run
names, params and tags are user input), write it atomically, or log it to a run.

The page is self-contained (inline CSS, PNGs as data URIs), so it opens the same from a file, an
MLflow artifact view, or an email attachment.
"""

from __future__ import annotations

import base64
import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import jinja2
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from dashboards.ranking import GROUP_ORDER, KINDS, RANKED_KINDS, UNRANKED_TITLES, Best, runs_frame, score_rule
from dashboards.report_figures import report_figures
from dashboards.run_images import ARTIFACT_DIRS, run_images
from dashboards.runs import ReportError, load_runs
from skelmae.track.conventions import resolve_tracking_uri

REPORT_ARTIFACT_DIR = "report"
FIGURE_TEXT = {  # key -> (alt text, caption)
    "score_vs_mask_ratio": ("Pretraining score against mask ratio per masking strategy",
                            "Pretraining runs only. Each point is a finished or stopped run's last logged "
                            "score; the line joins the mean per ratio; the star is the best pretraining run."),
    "loss_curves": ("Pretraining loss per epoch for each pretraining run",
                    "Reconstruction loss per epoch; best pretraining run thick, failed runs dashed."),
    "score_curves": ("Pretraining score per evaluation epoch for each pretraining run",
                     "The run's score metric ([name] in the legend) at each evaluation epoch; "
                     "best pretraining run thick, failed runs dashed."),
    "finetune_curves": ("Fine-tune validation accuracy per epoch for each fine-tune run",
                        "val_acc per epoch; best fine-tune run thick, failed runs dashed."),
}
_ENV = jinja2.Environment(loader=jinja2.PackageLoader("dashboards", "templates"),
                          autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)


@dataclass
class Report:
    experiment: str
    tracking_uri: str
    html: str
    figures: dict[str, bytes]  # figure key -> PNG bytes
    runs: pd.DataFrame  # one row per run, in table order; columns described in ranking.runs_frame()
    best_run_id: str | None  # the best pretraining run, else the best run of the first kind that has one
    best: dict[str, Best] = field(default_factory=dict)  # job kind -> its best run and the rule used
    best_run_images: dict[str, bytes] = field(default_factory=dict)  # artifact path -> PNG bytes
    parent_run_id: str | None = None


def element_id(*parts: str) -> str:
    """A DOM id from free text (artifact paths, figure keys): letters, digits, '-', '_' only."""
    return "-".join(re.sub(r"[^A-Za-z0-9_]+", "_", p).strip("_") for p in parts)


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _cell(v: object) -> str:
    if v is None or (isinstance(v, float) and pd.isna(v)) or v is pd.NaT:
        return "—"
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, pd.Timestamp):
        return v.strftime("%Y-%m-%d %H:%M:%S")
    return str(v)


def _table(rows: pd.DataFrame, title: str, key: str, rules: list[str]) -> dict:
    """A table of one group of runs: fixed run columns, then the params and metrics its runs have."""
    ranked = key in KINDS
    cols: list[tuple[str, str, object]] = [  # (group header, column header, source)
        ("run", "run", "run_name"), ("run", "id", lambda r: r["run_id"][:8]), ("run", "kind", "job_kind"),
        ("run", "status", "status"), ("run", "start (UTC)", "start_time"),
        ("run", "duration (s)", lambda r: f"{r['duration_s']:,.1f}" if pd.notna(r["duration_s"]) else None)]
    if ranked:
        cols += [("score", "score (last logged value)", "score"), ("score", "from metric", "score_metric")]
    for c in rows.columns:
        if c.startswith(("params.", "metrics.")) and rows[c].notna().any():
            group = "params" if c.startswith("params.") else "metrics (last logged value)"
            cols.append((group, c.split(".", 1)[1], c))
    groups: list[dict] = []
    for g, _, _ in cols:
        if groups and groups[-1]["name"] == g:
            groups[-1]["span"] += 1
        else:
            groups.append({"name": g, "span": 1})
    body = []
    for _, r in rows.iterrows():
        classes = [c for c, on in (("best", r["is_best"]), ("failed", r["status"] == "FAILED")) if on]
        body.append({"run_id": r["run_id"], "classes": " ".join(classes),
                     "cells": [_cell(src(r) if callable(src) else r[src]) for _, _, src in cols]})
    return {"id": f"runs-{key}", "key": key, "title": title, "rules": rules, "groups": groups,
            "headers": [h for _, h, _ in cols], "rows": body}


def _sweeps(client: MlflowClient, runs: pd.DataFrame, best: dict[str, Best]) -> list[dict]:
    best_pre = best.get("pretrain")
    out = []
    for _, row in runs[runs["group"] == "sweep"].iterrows():
        data = client.get_run(row["run_id"]).data
        items = [("sweep run", f"{row['run_name']} ({row['run_id']})"),
                 ("objective", data.params.get("metric", "score")),
                 ("trials in this report", str(int((runs["parent_run_id"] == row["run_id"]).sum())))]
        tune_best = data.tags.get("best_trial_run_id")
        if tune_best:
            agree = ("same as the best pretraining run here" if best_pre and tune_best == best_pre.run_id
                     else "differs from the best pretraining run here (see the rule above its table)")
            items.append(("Tune's best trial", f"{tune_best}: {agree}"))
        config = data.tags.get("best_config")
        if config:
            try:
                config = json.dumps(json.loads(config), indent=2, sort_keys=True)
            except ValueError:
                pass
        out.append({"name": row["run_name"], "items": items, "best_config": config})
    return out


def _headline_best(best: dict[str, Best]) -> Best | None:
    for kind in RANKED_KINDS:
        if kind.key in best and best[kind.key].run_id:
            return best[kind.key]
    return None


def render(experiment: str, uri: str, parent_run_id: str | None, runs: pd.DataFrame, constant: dict[str, str],
           best: dict[str, Best], figures: dict[str, bytes], images: dict[str, bytes],
           client: MlflowClient) -> str:
    status_counts = ", ".join(f"{n} {s}" for s, n in runs["status"].value_counts().sort_index().items())
    summary = [("experiment", experiment), ("tracking URI", uri), ("runs", f"{len(runs)} ({status_counts})"),
               ("generated", datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"))]
    if parent_run_id:
        summary.insert(2, ("sweep parent run", parent_run_id))
    by_id = runs.set_index("run_id")
    for kind in RANKED_KINDS:
        b = best.get(kind.key)
        if b is None:
            continue
        if b.run_id:
            r = by_id.loc[b.run_id]
            summary.append((f"best {kind.noun}", f"{r['run_name']} ({b.run_id}): {r['score_metric']} = "
                            f"{r['score']:.4g}"))
        else:
            summary.append((f"best {kind.noun}", "none"))

    tables = []
    for key in GROUP_ORDER:
        rows = runs[runs["group"] == key]
        if rows.empty:
            continue
        if key in KINDS:
            tables.append(_table(rows, KINDS[key].title, key, [score_rule(KINDS[key]), best[key].rule]))
        else:
            tables.append(_table(rows, UNRANKED_TITLES[key], key, []))

    figs = [{"key": k, "id": f"fig-{k}", "alt": alt, "caption": cap,
             "src": _data_uri(figures[k]) if k in figures else None} for k, (alt, cap) in FIGURE_TEXT.items()]

    head = _headline_best(best)
    best_section = None
    if head is not None:
        params = client.get_run(head.run_id).data.params
        best_section = {
            "noun": KINDS[head.kind].noun, "run_id": head.run_id, "run_name": by_id.loc[head.run_id, "run_name"],
            "params": sorted(params.items()),
            "images": [{"id": element_id("best", Path(p).with_suffix("").as_posix()), "src": _data_uri(png),
                        "path": p} for p, png in images.items()],
            "dirs": ", ".join(f"{d}/" for d in ARTIFACT_DIRS)}
    return _ENV.get_template("report.html.j2").render(
        title=f"Run comparison: {experiment}", experiment=experiment, summary=summary,
        sweeps=_sweeps(client, runs, best), tables=tables, constant=sorted(constant.items()), figures=figs,
        best=best_section)


def build_report(experiment: str, tracking_uri: str | None = None, parent_run_id: str | None = None) -> Report:
    """Read the experiment's runs (or one sweep's: `parent_run_id`) from MLflow and build the page.

    Raises ReportError for an unknown experiment, one with no runs, or a parent run not in it.
    """
    uri = resolve_tracking_uri(tracking_uri or "")
    runs, constant, best = runs_frame(load_runs(experiment, uri, parent_run_id))
    client = MlflowClient(uri)
    figures = report_figures(client, runs)
    head = _headline_best(best)
    images = run_images(head.run_id, uri) if head else {}
    page = render(experiment, uri, parent_run_id, runs, constant, best, figures, images, client)
    return Report(experiment=experiment, tracking_uri=uri, html=page, figures=figures, runs=runs,
                  best_run_id=head.run_id if head else None, best=best, best_run_images=images,
                  parent_run_id=parent_run_id)


def write_report(report: Report, out_path: str | Path) -> Path:
    """Write the page to `out_path`, replacing an older page only once the new one is complete."""
    out = Path(out_path).expanduser().resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(report.html)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
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


def report_sweep(experiment: str, parent_run_id: str, tracking_uri: str | None = None) -> Report:
    """The sweep's own report: build it for the parent and its trials, and log it under the parent's
    `report/` (next to MLflow's built-in run comparison)."""
    report = build_report(experiment, tracking_uri, parent_run_id=parent_run_id)
    log_report_to_run(report, parent_run_id, report.tracking_uri)
    return report

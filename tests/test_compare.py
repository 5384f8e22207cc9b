"""The run-comparison report against a real MLflow store, and rendered in real headless Chromium."""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from browser_check import dom_images, embedded_pngs, find_chromium, png_stats, render_in_chromium
from matplotlib.figure import Figure
from mlflow.entities import Metric, Param
from mlflow.tracking import MlflowClient

from dashboards.compare import ReportError, build_report, log_report_to_run, write_report
from dashboards.report_figures import score_vs_mask_ratio_figure
from skelmae.track.conventions import EXPERIMENT_KIND_TAG, ensure_experiment

REPO = Path(__file__).resolve().parents[1]
EXP = "compare-sweep"
T0 = 1_700_000_000_000  # ms; fixed start times make durations exact


def _log_trial(client, exp_id, parent, name, strategy, ratios, lr, scores, knn, status, start, duration_s):
    run = client.create_run(exp_id, start_time=start, run_name=name,
                            tags={"job_kind": "pretrain", "mlflow.parentRunId": parent})
    rid = run.info.run_id
    params = {"model.mask_strategy": strategy, "model.preset": "tiny", "optim.lr": lr, "seed": 0,
              "optim.epochs": len(scores) * 2, **ratios}
    client.log_batch(rid, params=[Param(k, str(v)) for k, v in params.items()])
    metrics = []
    for epoch in range(len(scores) * 2):
        ts = start + epoch * 1000
        metrics += [Metric("loss", 1.0 / (epoch + 1) + 0.1 * lr * 1000, ts, epoch),
                    Metric("lr", lr, ts, epoch), Metric("sequences_per_s", 100.0 + epoch, ts, epoch)]
        if epoch % 2 == 1:  # evaluation epochs
            metrics += [Metric("score", scores[epoch // 2], ts, epoch),
                        Metric("knn_acc", knn[epoch // 2], ts, epoch)]
    client.log_batch(rid, metrics=metrics)
    client.set_terminated(rid, status=status, end_time=start + duration_s * 1000)
    return rid


@pytest.fixture(scope="module")
def store(mlflow_store):
    """A sweep parent with three finished trials and one failed one, plus one run outside the sweep.

    Logged into the session's store (creating a sqlite store costs ~10 s of schema migrations).
    """
    uri = mlflow_store
    exp_id = ensure_experiment(EXP, uri)
    ensure_experiment("compare-empty", uri)
    client = MlflowClient(uri)
    parent = client.create_run(exp_id, start_time=T0, run_name="sweep", tags={"job_kind": "sweep"})
    parent = parent.info.run_id
    client.log_param(parent, "metric", "score")
    ids = {
        # Highest score at some epoch (0.85) but its last score is 0.70: ranks below "joint".
        "random": _log_trial(client, exp_id, parent, "trial-random", "random", {"model.mask_ratio": 0.9},
                             0.001, [0.50, 0.85, 0.70], [0.55, 0.90, 0.95], "FINISHED", T0 + 1000, 120),
        # Best by the documented rule: last logged score 0.75 (its knn_acc is the lowest).
        "joint": _log_trial(client, exp_id, parent, "trial-joint", "joint",
                            {"model.mask_ratio": 0.9, "model.joint_mask_ratio": 0.6},
                            0.002, [0.60, 0.75], [0.40, 0.45], "FINISHED", T0 + 2000, 60),
        "frame": _log_trial(client, exp_id, parent, "trial-frame", "frame",
                            {"model.mask_ratio": 0.9, "model.frame_mask_ratio": 0.5},
                            0.003, [0.30, 0.40], [0.35, 0.42], "FINISHED", T0 + 3000, 90),
        # A failed trial's partial score is higher than any, yet it must not be the best run.
        "failed": _log_trial(client, exp_id, parent, "trial-failed", "motion", {"model.mask_ratio": 0.75},
                             0.004, [0.95], [0.96], "FAILED", T0 + 4000, 30),
    }
    client.set_tag(parent, "best_trial_run_id", ids["joint"])
    client.set_tag(parent, "best_config", json.dumps({"model.mask_strategy": "joint", "optim.lr": 0.002}))
    client.set_terminated(parent, status="FINISHED", end_time=T0 + 300_000)
    outside = client.create_run(exp_id, start_time=T0 + 500_000, run_name="probe",
                                tags={"job_kind": "linear_eval"}).info.run_id
    client.log_batch(outside, metrics=[Metric("linear_acc", 0.30, T0, 0), Metric("knn_acc", 0.25, T0, 0)])
    client.set_terminated(outside, status="FINISHED", end_time=T0 + 510_000)

    # The best trial's own pictures, as the training loops log them.
    for path in ("reconstructions/epoch_001.png", "reconstructions/epoch_003.png", "confusion/confusion.png"):
        fig = Figure(figsize=(3, 2))
        ax = fig.add_subplot()
        ax.plot([0, 1, 2], [0, 1, 0] if "recon" in path else [1, 0, 1])
        client.log_figure(ids["joint"], fig, path)
    return {"uri": uri, "parent": parent, "outside": outside, **ids}


@pytest.fixture(scope="module")
def sweep_report(store):
    return build_report(EXP, store["uri"], parent_run_id=store["parent"])


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dashboards.compare", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(REPO)})


def test_table_holds_every_run_with_params_metrics_duration_status(store, sweep_report):
    runs = sweep_report.runs.set_index("run_id")
    sweep_ids = {store[k] for k in ("parent", "random", "joint", "frame", "failed")}
    assert set(runs.index) == sweep_ids  # the run outside the sweep is left out
    assert runs.loc[store["parent"], "job_kind"] == "sweep"
    assert runs.loc[store["failed"], "status"] == "FAILED"
    assert runs.loc[store["random"], "duration_s"] == pytest.approx(120.0)
    assert runs.loc[store["frame"], "duration_s"] == pytest.approx(90.0)
    assert runs.loc[store["joint"], "params.model.mask_strategy"] == "joint"
    assert runs.loc[store["joint"], "params.model.joint_mask_ratio"] == "0.6"
    assert runs.loc[store["random"], "metrics.loss"] == pytest.approx(1.0 / 6 + 0.1)  # last epoch's loss
    assert runs.loc[store["random"], "score"] == pytest.approx(0.70)  # last value, not the max 0.85
    assert runs.loc[store["random"], "score_metric"] == "score"

    page = sweep_report.html
    for rid in sweep_ids:
        assert f'data-run-id="{rid}"' in page
    for text in ("FAILED", "FINISHED", "trial-frame", "model.mask_strategy", "120.0", "duration (s)",
                 "score (last logged value)", "sequences_per_s"):
        assert text in page
    assert "optim.epochs" in page  # params equal across runs are listed too


def test_whole_experiment_includes_runs_outside_the_sweep(store, tmp_path):
    other = f"sqlite:///{tmp_path}/other.db"
    os.environ["MLFLOW_TRACKING_URI"] = other
    try:
        report = build_report(EXP, store["uri"])
        # The caller's tracking settings survive building a report.
        assert os.environ["MLFLOW_TRACKING_URI"] == other
    finally:
        os.environ["MLFLOW_TRACKING_URI"] = store["uri"]
    assert store["outside"] in set(report.runs["run_id"])
    row = report.runs.set_index("run_id").loc[store["outside"]]
    # A linear eval is scored by its linear_acc, not by the knn_acc it also logs.
    assert row["group"] == "linear_eval"
    assert row["score_metric"] == "linear_acc" and row["score"] == pytest.approx(0.30)
    # Only the sweep's trials are pretraining runs, so the sweep's recorded choice is the best one.
    assert report.best_run_id == store["joint"]
    assert report.best["linear_eval"].run_id == store["outside"]
    assert report.runs["is_best"].sum() == 2  # one best run per kind


def test_best_run_is_highest_last_score_of_finished_runs_and_highlighted(store, sweep_report):
    assert sweep_report.best_run_id == store["joint"]
    assert sweep_report.runs["is_best"].sum() == 1
    page = sweep_report.html
    assert page.count('class="best"') == 1
    assert f'<tr data-run-id="{store["joint"]}" class="best">' in page
    assert "Tune&#39;s best trial" in page and "same as the best pretraining run here" in page


def test_sweep_recorded_best_trial_wins_over_reranking(mlflow_store):
    # Tune's choice can differ from the last score in MLflow (a stopped trial logs one score more than
    # Tune received); the report must show the trial the sweep evaluated further.
    exp_id = ensure_experiment("compare-sweep-choice", mlflow_store)
    client = MlflowClient(mlflow_store)
    parent = client.create_run(exp_id, start_time=T0, run_name="sweep", tags={"job_kind": "sweep"}).info.run_id
    high = _log_trial(client, exp_id, parent, "trial-high", "random", {"model.mask_ratio": 0.5},
                      0.001, [0.9], [0.9], "KILLED", T0 + 1000, 10)
    chosen = _log_trial(client, exp_id, parent, "trial-chosen", "random", {"model.mask_ratio": 0.9},
                        0.001, [0.6], [0.6], "KILLED", T0 + 2000, 10)
    client.set_tag(parent, "best_trial_run_id", chosen)
    client.set_terminated(parent, status="FINISHED", end_time=T0 + 60_000)
    report = build_report("compare-sweep-choice", mlflow_store, parent_run_id=parent)
    assert report.best_run_id == chosen != high
    assert f'<tr data-run-id="{chosen}" class="best">' in report.html
    assert "same as the best pretraining run here" in report.html
    assert "the trial that sweep sweep (" in report.html  # the page names the rule that chose it


def test_figures_are_nonempty_pngs(sweep_report):
    assert set(sweep_report.figures) == {"score_vs_mask_ratio", "loss_curves", "score_curves"}
    for key, png in sweep_report.figures.items():
        assert png.startswith(b"\x89PNG\r\n\x1a\n"), key
        w, h, std = png_stats(png)
        assert w > 300 and h > 200 and std > 5, (key, w, h, std)
        assert f'id="fig-{key}"' in sweep_report.html


def test_best_run_artifacts_are_embedded(sweep_report):
    # The newest pictures of the best run's artifact folders, each an <img> with a stable id.
    assert set(sweep_report.best_run_images) == {
        "reconstructions/epoch_001.png", "reconstructions/epoch_003.png", "confusion/confusion.png"}
    assert 'id="best-reconstructions_epoch_003"' in sweep_report.html
    assert 'id="best-confusion_confusion"' in sweep_report.html


def test_missing_store_unknown_and_empty_experiment_are_clear_errors(store, tmp_path):
    with pytest.raises(ReportError, match="experiment 'nope' not found in sqlite:///"):
        build_report("nope", store["uri"])
    with pytest.raises(ReportError, match="experiment 'compare-empty' has no runs"):
        build_report("compare-empty", store["uri"])
    with pytest.raises(ReportError, match="run 'deadbeef' not found in experiment"):
        build_report(EXP, store["uri"], parent_run_id="deadbeef")
    missing = tmp_path / "absent.db"
    with pytest.raises(ReportError, match="no database file"):
        build_report(EXP, f"sqlite:///{missing}")
    assert not missing.exists()  # no empty database left behind at a mistyped path


@pytest.mark.parametrize("experiment,message", [("nope", "experiment 'nope' not found in sqlite:///"),
                                                ("compare-empty", "experiment 'compare-empty' has no runs")])
def test_cli_error_is_a_message_and_status_1(store, tmp_path, experiment, message):
    out = tmp_path / "report.html"
    proc = _cli("--experiment", experiment, "--tracking-uri", store["uri"], "--out", str(out), cwd=tmp_path)
    assert proc.returncode == 1
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not out.exists()


def test_cli_writes_report_and_logs_it_to_the_parent_run(store, tmp_path):
    out = tmp_path / "sub" / "report.html"
    proc = _cli("--experiment", EXP, "--tracking-uri", store["uri"], "--out", str(out),
                "--parent-run", store["parent"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert store["joint"] in proc.stdout
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    client = MlflowClient(store["uri"])
    logged = {a.path for a in client.list_artifacts(store["parent"], "report")}
    assert logged == {"report/report.html", "report/score_vs_mask_ratio.png", "report/loss_curves.png",
                      "report/score_curves.png"}


def test_log_report_to_run_puts_artifacts_on_the_run(store, sweep_report, tmp_path):
    paths = log_report_to_run(sweep_report, store["outside"], store["uri"])
    client = MlflowClient(store["uri"])
    logged = {a.path: a.file_size for a in client.list_artifacts(store["outside"], "report")}
    assert set(paths) == set(logged)
    assert all(size > 1000 for size in logged.values())
    local = client.download_artifacts(store["outside"], "report/loss_curves.png", str(tmp_path))
    assert Path(local).read_bytes() == sweep_report.figures["loss_curves"]
    with pytest.raises(ReportError, match="not found"):
        log_report_to_run(sweep_report, "0" * 32, store["uri"])


def test_report_renders_in_headless_chromium(sweep_report, tmp_path):
    if find_chromium() is None:
        pytest.skip("Chromium is not installed (/usr/bin/chromium; setup.sh installs it)")
    page = write_report(sweep_report, tmp_path / "report.html")
    shot = tmp_path / "screenshot.png"
    dom = render_in_chromium(page, shot)

    w, h, std = png_stats(shot.read_bytes())
    assert (w, h) == (1400, 3000)
    assert std > 10  # not a blank page

    ids = {a.get("id") for a in dom_images(dom)}
    assert {"fig-score_vs_mask_ratio", "fig-loss_curves", "fig-score_curves",
            "best-reconstructions_epoch_003"} <= ids
    pngs = embedded_pngs(dom)
    assert set(pngs) == ids
    for img_id, png in pngs.items():
        iw, ih, istd = png_stats(png)
        assert iw > 100 and ih > 100 and istd > 5, (img_id, iw, ih, istd)
    assert f'data-run-id="{sweep_report.best_run_id}" class="best"' in dom


def _log_run(client, exp_id, name, kind, params, metrics, status="FINISHED", start=T0, tags=None):
    rid = client.create_run(exp_id, start_time=start, run_name=name,
                            tags={"job_kind": kind, **(tags or {})}).info.run_id
    client.log_batch(rid, params=[Param(k, str(v)) for k, v in params.items()],
                     metrics=[Metric(k, v, start, 0) for k, v in metrics.items()])
    client.set_terminated(rid, status=status, end_time=start + 60_000)
    return rid


@pytest.fixture(scope="module")
def kinds(mlflow_store):
    """Pretraining, fine-tune and linear-eval runs in one experiment; the other kinds score higher."""
    exp = "compare-kinds"
    exp_id = ensure_experiment(exp, mlflow_store)
    client = MlflowClient(mlflow_store)
    mask = {"model.mask_strategy": "random", "model.preset": "tiny"}
    ids = {
        "pre_best": _log_run(client, exp_id, "pre-a", "pretrain", {**mask, "model.mask_ratio": 0.9},
                             {"knn_acc": 0.50, "loss": 0.3}, start=T0),
        "pre_low": _log_run(client, exp_id, "pre-b", "pretrain", {**mask, "model.mask_ratio": 0.6},
                            {"knn_acc": 0.40, "loss": 0.2}, start=T0 + 1000),
        # Its knn_acc is the highest number of any pretraining run, but it failed.
        "pre_failed": _log_run(client, exp_id, "pre-c", "pretrain", {**mask, "model.mask_ratio": 0.75},
                               {"knn_acc": 0.60}, status="FAILED", start=T0 + 2000),
        # A fine-tune inherits mask params from its config; its val_acc is higher than any kNN score.
        "fine": _log_run(client, exp_id, "fine-a", "finetune", {**mask, "model.mask_ratio": 0.3},
                         {"val_acc": 0.90, "loss": 0.1}, start=T0 + 3000),
        "fine_low": _log_run(client, exp_id, "fine-b", "finetune", {**mask, "model.mask_ratio": 0.3},
                             {"val_acc": 0.80}, start=T0 + 4000),
        "linear": _log_run(client, exp_id, "probe", "linear_eval", {}, {"linear_acc": 0.70, "knn_acc": 0.99},
                           start=T0 + 5000),
        # User input in a run name and a param must reach the page as text, never as markup.
        "evil": _log_run(client, exp_id, "<script>alert(1)</script>", "pretrain",
                         {**mask, "model.mask_ratio": 0.5, "note": '<img src=x onerror="alert(2)">'},
                         {"knn_acc": 0.10}, start=T0 + 6000),
    }
    return {"uri": mlflow_store, "exp": exp, "report": build_report(exp, mlflow_store), **ids}


def test_each_kind_is_ranked_only_against_its_own_kind(kinds):
    report = kinds["report"]
    assert report.best["pretrain"].run_id == kinds["pre_best"]
    assert report.best["finetune"].run_id == kinds["fine"]
    assert report.best["linear_eval"].run_id == kinds["linear"]
    assert report.best_run_id == kinds["pre_best"]  # the headline is the best pretraining run
    runs = report.runs.set_index("run_id")
    assert runs.loc[kinds["fine"], "score_metric"] == "val_acc"
    assert runs.loc[kinds["linear"], "score_metric"] == "linear_acc"  # not its higher knn_acc
    page = report.html
    # One table per kind, each holding its own runs only, each with one highlighted row.
    for kind, members in (("pretrain", ("pre_best", "pre_low", "pre_failed", "evil")),
                          ("finetune", ("fine", "fine_low")), ("linear_eval", ("linear",))):
        table = page.split(f'id="runs-{kind}"', 1)[1].split("</table>", 1)[0]
        assert {kinds[m] for m in members} == set(re.findall(r'data-run-id="([0-9a-f]+)"', table))
        assert table.count('class="best"') == 1
        assert f'<tr data-run-id="{report.best[kind].run_id}" class="best">' in table
    summary = page.split("<h2>", 1)[0]
    assert re.search(rf"best pretraining run</td><td>pre-a \({kinds['pre_best']}\)", summary)
    assert not re.search(r"best pretraining run</td><td>fine-a", summary)


def test_the_stated_rule_is_the_one_applied(kinds):
    report = kinds["report"]
    rule = report.best["pretrain"].rule
    assert rule.startswith("Best pretraining run: the highest score among pretraining runs that did not fail")
    page_text = re.sub(r"<[^>]+>", "", report.html)  # the page sets `names` as <code>
    assert html.escape(rule.replace("`", ""), quote=True).replace("&#x27;", "&#39;") in page_text
    # Recompute the stated rule from the table independently of the ranking code.
    runs = report.runs
    pool = runs[(runs["job_kind"] == "pretrain") & (runs["status"] != "FAILED") & runs["score"].notna()]
    assert pool.loc[pool["score"].idxmax(), "run_id"] == report.best["pretrain"].run_id
    assert ("Score of a pretraining run = the last logged value of <code>score</code>, else <code>knn_acc</code>"
            in report.html)
    assert "Score of a fine-tune run = the last logged value of <code>val_acc</code>" in report.html


def test_score_vs_mask_ratio_plots_pretraining_runs_only(kinds):
    runs = kinds["report"].runs
    fig = score_vs_mask_ratio_figure(runs)
    points = {(round(float(x), 3), round(float(y), 3)) for coll in fig.axes[0].collections
              for x, y in coll.get_offsets()}
    assert (0.9, 0.5) in points and (0.6, 0.4) in points and (0.5, 0.1) in points
    assert (0.3, 0.9) not in points and (0.3, 0.8) not in points  # the fine-tune runs
    assert (0.75, 0.6) not in points  # the failed run
    # Every plotted score is a finished pretraining run's score.
    pre = runs[(runs["job_kind"] == "pretrain") & (runs["status"] != "FAILED")]
    assert {y for _, y in points} <= {round(v, 3) for v in pre["score"]}


def test_run_names_and_params_are_escaped(kinds):
    page = kinds["report"].html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script" not in page  # the page carries no script at all
    assert "onerror=" not in page.replace("onerror=&#34;", "")
    assert "&lt;img src=x onerror=&#34;alert(2)&#34;&gt;" in page


def test_kind_tables_render_in_headless_chromium(kinds, tmp_path):
    if find_chromium() is None:
        pytest.skip("Chromium is not installed (/usr/bin/chromium; setup.sh installs it)")
    page = write_report(kinds["report"], tmp_path / "report.html")
    dom = render_in_chromium(page, tmp_path / "shot.png", window_size=(1400, 2000))
    # The browser built the three ranked tables, each with its rule, and ran no script.
    assert re.findall(r'<table class="runs" id="runs-(\w+)"', dom)[:3] == ["pretrain", "finetune", "linear_eval"]
    assert "<script" not in dom and "alert(1)" in dom
    assert dom.count('class="best"') == 3
    w, h, std = png_stats((tmp_path / "shot.png").read_bytes())
    assert (w, h) == (1400, 2000) and std > 10


def test_write_report_replaces_the_old_page_whole(kinds, tmp_path):
    out = tmp_path / "report.html"
    out.write_text("old page", encoding="utf-8")
    write_report(kinds["report"], out)
    assert out.read_text(encoding="utf-8") == kinds["report"].html
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]  # no temporary file left


def test_experiments_are_created_as_training_experiments(mlflow_store):
    client = MlflowClient(mlflow_store)
    exp_id = ensure_experiment("kind-new", mlflow_store)
    assert client.get_experiment(exp_id).tags[EXPERIMENT_KIND_TAG] == "custom_model_development"
    # An experiment made before this (no kind) gets one; a kind someone chose is kept.
    old = client.create_experiment("kind-old")
    assert EXPERIMENT_KIND_TAG not in client.get_experiment(old).tags
    assert ensure_experiment("kind-old", mlflow_store) == old
    assert client.get_experiment(old).tags[EXPERIMENT_KIND_TAG] == "custom_model_development"
    genai = client.create_experiment("kind-genai", tags={EXPERIMENT_KIND_TAG: "genai_development"})
    assert ensure_experiment("kind-genai", mlflow_store) == genai
    assert client.get_experiment(genai).tags[EXPERIMENT_KIND_TAG] == "genai_development"

"""A real Ray Tune sweep of the tiny model: parent/child MLflow runs, ASHA, best config, resume, report."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import pytest
from mlflow.tracking import MlflowClient

from dashboards.sweep_report import log_sweep_report
from skelmae.config.jobs import SweepConfig
from skelmae.config.loader import ConfigError, load_config
from skelmae.tune.sweep import run_sweep


def _cfg(data: str, tmp_path: Path, *extra: str) -> SweepConfig:
    return load_config(SweepConfig, [
        "--pretrain.data.path", data, "--pretrain.model.num_frames", "16",
        "--pretrain.optim.batch_size", "32", "--pretrain.optim.epochs", "2",
        "--pretrain.scaling.torch_threads", "1",
        "--pretrain.tracking.storage_path", str(tmp_path / "runs"),
        "--pretrain.tracking.experiment", "test-sweep",
        "--mask_ratios", "0.3,0.9", "--grace_period", "1", "--reduction_factor", "2",
        "--name", "tiny-sweep", *extra,
    ])


def test_sweep_config_errors_name_the_field():
    with pytest.raises(ConfigError, match="^mask_ratios"):
        load_config(SweepConfig, ["--mask_ratios", "0.5,1.0"])
    with pytest.raises(ConfigError, match="^strategies"):
        load_config(SweepConfig, ["--strategies", "random,diagonal"])
    with pytest.raises(ConfigError, match="^pretrain.model.preset"):
        load_config(SweepConfig, ["--pretrain.model.preset", "huge"])


@pytest.mark.slow
def test_sweep_parent_children_asha_best_and_resume(ray_local, mlflow_store, synthetic_dataset, tmp_path):
    out = run_sweep(_cfg(synthetic_dataset, tmp_path, "--champion", "sweep-champion", "--champion_epochs", "1"),
                    report=log_sweep_report)
    client = MlflowClient(mlflow_store)
    parent = client.get_run(out["parent_run_id"])
    assert parent.data.tags["job_kind"] == "sweep"
    assert parent.info.status == "FINISHED"
    children = client.search_runs(
        [parent.info.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{out['parent_run_id']}'"
    )
    assert len(children) == 2
    ratios = sorted(float(c.data.params["model.mask_ratio"]) for c in children)
    assert ratios == [0.3, 0.9]
    for c in children:
        assert "knn_acc" in c.data.metrics and "scheduler_decision" in c.data.tags
        # Tune kills a trial at its last report, even a completed one: the driver closes every child run
        # and attaches its last checkpoint, so any trial can be fine-tuned from its run ID.
        decision = {t["run_id"]: t["decision"] for t in out["trials"]}[c.info.run_id]
        assert c.info.status == ("FINISHED" if decision == "completed" else "KILLED"), decision
        assert c.data.tags["scheduler_decision"] == decision
        assert "final_score" in c.data.metrics
        assert [a.path for a in client.list_artifacts(c.info.run_id, "checkpoint")], c.info.run_name
    # ASHA's decisions are visible: every trial says how it ended and how far it got.
    decisions = {t["decision"] for t in out["trials"]}
    assert all(d == "completed" or d.startswith("stopped early by ASHA after ") for d in decisions), decisions
    assert all(1 <= t["epochs_trained"] <= 2 for t in out["trials"])
    assert any(t["decision"] == "completed" for t in out["trials"])
    # The best trial is reported on the parent and is the highest-scoring trial.
    best = max(out["trials"], key=lambda t: t["score"])
    assert parent.data.tags["best_trial_run_id"] == out["best_run_id"] == best["run_id"]
    assert parent.data.metrics["best_score"] == pytest.approx(best["score"]) == out["best_score"]
    assert json.loads(parent.data.tags["best_config"])["mask_ratio"] == best["mask_ratio"]
    # The best trial was evaluated (linear probe, feature map) and fine-tuned into the champion.
    linked = f"tags.pretrain_run_id = '{out['best_run_id']}' and tags.job_kind = 'linear_eval'"
    lin = client.search_runs([parent.info.experiment_id], filter_string=linked)
    assert len(lin) == 1 and "linear_acc" in lin[0].data.metrics
    version = client.get_model_version_by_alias("sweep-champion", "champion")
    assert version.run_id == out["champion"]["run_id"]
    assert client.get_run(version.run_id).data.tags["pretrain_run_id"] == out["best_run_id"]
    assert "sweep-champion@champion" in parent.data.tags["champion_model"]
    # The comparison report and its figures are artifacts of the parent run, with the best run's pictures.
    report = {a.path for a in client.list_artifacts(out["parent_run_id"], "report")}
    assert "report/report.html" in report and any(p.endswith(".png") for p in report)
    html = Path(mlflow.artifacts.download_artifacts(run_id=out["parent_run_id"], artifact_path="report/report.html",
                                                    tracking_uri=mlflow_store)).read_text()
    for picture in ("best-reconstructions_", "best-confusion_", "best-features_"):
        assert picture in html, picture

    # Resume: finished trials are not rerun, so their child runs gain no new metric steps.
    before = {c.info.run_id: len(client.get_metric_history(c.info.run_id, "loss")) for c in children}
    again = run_sweep(_cfg(synthetic_dataset, tmp_path, "--resume", "--evaluate_best", "false"),
                      report=log_sweep_report)
    assert again["parent_run_id"] == out["parent_run_id"]
    after = {rid: len(client.get_metric_history(rid, "loss")) for rid in before}
    assert after == before
    # ... and their child runs are not recorded a second time.
    assert all(len(client.get_metric_history(rid, "final_score")) == 1 for rid in before)
    assert len(client.search_runs(
        [parent.info.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{out['parent_run_id']}'"
    )) == 2


def test_trial_config_applies_the_trial_and_masking_sub_ratio_rule():
    from skelmae.tune.sweep import trial_pretrain_config

    base = load_config(SweepConfig, ["--pretrain.optim.batch_size", "16"]).pretrain
    cfg = trial_pretrain_config(base, {"strategy": "spatiotemporal", "mask_ratio": 0.75, "base_lr": 0.002})
    # Split evenly between joints and segments so that 1 - (1 - j)(1 - f) = 0.75.
    assert cfg.model.joint_mask_ratio == pytest.approx(0.5) == cfg.model.frame_mask_ratio
    assert cfg.optim.base_lr == 0.002 and cfg.optim.batch_size == 16 and cfg.optim.epochs == base.optim.epochs
    other = trial_pretrain_config(base, {"strategy": "random", "mask_ratio": 0.6, "preset": "base"})
    assert other.model.embed_dim == 256 and other.model.mask_strategy == "random" and other.model.mask_ratio == 0.6

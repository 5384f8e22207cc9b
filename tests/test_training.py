"""Ray Train jobs end to end: real local Ray, real MLflow store, tiny model on synthetic data."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import mlflow
import pytest
from mlflow.tracking import MlflowClient

from skelmae.config.jobs import LinearEvalConfig, PretrainConfig
from skelmae.config.loader import load_config
from skelmae.track.conventions import tracking_uri_set_to
from skelmae.train.launcher import run_linear_eval, run_pretrain

# End to end: real Ray Train fits and MLflow runs.
pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
# Small enough for 2 CPU cores: 2 workers share them with Ray Data at half a CPU each.
TINY = ["--model.num_frames", "16", "--optim.batch_size", "16", "--scaling.torch_threads", "1"]


def _pretrain_cfg(data: str, tmp_path: Path, *extra: str) -> PretrainConfig:
    return load_config(PretrainConfig, [
        "--data.path", data, "--optim.epochs", "2", "--scaling.num_workers", "2",
        "--scaling.cpus_per_worker", "0.5", "--tracking.storage_path", str(tmp_path / "runs"),
        "--tracking.experiment", "test-training", "--linear_eval", "false", *TINY, *extra,
    ])


def _steps(client: MlflowClient, run_id: str, key: str) -> list[int]:
    return sorted(m.step for m in client.get_metric_history(run_id, key))


def test_pretrain_two_workers_then_linear_eval(ray_local, mlflow_store, synthetic_dataset, tmp_path):
    cfg = _pretrain_cfg(synthetic_dataset, tmp_path, "--knn_every", "1")
    out = run_pretrain(cfg)
    assert os.path.isfile(out["checkpoint"])
    client = MlflowClient(mlflow_store)
    run = client.get_run(out["run_id"])
    assert run.info.status == "FINISHED"
    assert run.data.params["model.preset"] == "tiny"
    assert run.data.params["scaling.num_workers"] == "2"
    assert run.data.tags["job_kind"] == "pretrain"
    assert len(run.data.tags["dataset_manifest_hash"]) == 64
    assert run.data.tags["git_commit"] != ""
    for key in ("loss", "lr", "sequences_per_s", "knn_acc"):
        assert _steps(client, out["run_id"], key) == [0, 1], key
    artifacts = {a.path for a in client.list_artifacts(out["run_id"])}
    assert {"config.yaml", "checkpoint"} <= artifacts
    # The run's checkpoint artifact (MLflow also lists the logged model's copy of it under the same path).
    assert {a.path for a in client.list_artifacts(out["run_id"], "checkpoint")} == {"checkpoint/checkpoint.pt"}

    lin = load_config(LinearEvalConfig, [
        "--pretrained", out["run_id"], "--data.path", synthetic_dataset, "--epochs", "50",
        "--tracking.storage_path", str(tmp_path / "runs"), "--tracking.experiment", "test-training",
        "--scaling.num_workers", "2", "--scaling.cpus_per_worker", "0.5",
    ])
    res = run_linear_eval(lin)
    lrun = client.get_run(res["run_id"])
    assert lrun.data.tags["pretrain_run_id"] == out["run_id"]
    assert 0.0 <= lrun.data.metrics["linear_acc"] <= 1.0
    assert 0.0 <= lrun.data.metrics["knn_acc"] <= 1.0
    # Both workers' shards were gathered: every test-split sample was scored (minus an uneven remainder).
    assert lrun.data.metrics["num_val"] >= 0.9 * _split_size(synthetic_dataset, "test")


def _split_size(data: str, part: str) -> int:
    from data_pipeline.parquet_io import read_samples

    return read_samples(data, "ntu60-xsub", part, columns=["label"]).num_rows


def test_bad_config_fails_before_ray(tmp_path):
    for argv, field in [
        (["--model.preset", "huge"], "model.preset"),
        (["--model.mask_ratio", "1.0"], "model.mask_ratio"),
        (["--data.path", str(tmp_path / "missing")], "data.path"),
    ]:
        # Without the session's tracking URI the job's default store is ./mlflow.db: none may appear.
        env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
        p = subprocess.run([sys.executable, str(REPO / "jobs/pretrain.py"), *argv], cwd=tmp_path,
                           capture_output=True, text=True, timeout=120, env=env)
        assert p.returncode == 2, p.stderr
        assert field in p.stderr
        assert "Ray" not in p.stdout + p.stderr.replace(field, "")
        assert not (tmp_path / "mlflow.db").exists()


def test_pretrain_and_finetune_on_mlflow_server(trained_classifier):
    """The session's classifier was pretrained and fine-tuned against a real `mlflow server`."""
    server = trained_classifier["tracking_uri"]
    assert server.startswith("http://127.0.0.1:")
    client = MlflowClient(server)
    frun = client.get_run(trained_classifier["run_id"])
    assert frun.info.status == "FINISHED"
    assert frun.data.tags["pretrain_run_id"] == trained_classifier["pretrain_run_id"]
    assert _steps(client, trained_classifier["run_id"], "val_acc") == list(range(trained_classifier["epochs"]))

    # The jobs left the process's MLflow client where it was (they log to the server by URI).
    assert mlflow.get_tracking_uri() != server
    with tracking_uri_set_to(server):  # MLflow finds a run's logged model through the process's URI
        model = mlflow.pyfunc.load_model(f"runs:/{trained_classifier['run_id']}/model")
    from skelmae.data.batches import load_split_arrays

    x, y, _ = load_split_arrays(trained_classifier["data_path"], "ntu60-xsub", "test", 16, 0.95, limit=5)
    probs = model.predict(x)
    assert probs.shape == (5, 60)
    assert abs(float(probs.sum(1).mean()) - 1.0) < 1e-4
    assert model.metadata.signature is not None

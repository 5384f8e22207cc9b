"""The console mode: `--verbose`, Ray's settings, one-line errors, the sweep's outcome and table, and
MLflow's own records of a run (system metrics, dataset input, checkpoint as a logged model)."""

from __future__ import annotations

import json
import logging
import math
import time

import pytest
from mlflow.tracking import MlflowClient

from data_pipeline.errors import ConfigError
from data_pipeline.parquet_io import manifest_hash
from skelmae import console
from skelmae.checkpoint import CheckpointError
from skelmae.track import run_records
from skelmae.tune.summary import epochs_run, trial_decision, trial_table


@pytest.fixture
def quiet_env(monkeypatch):
    monkeypatch.delenv(console.VERBOSE_ENV, raising=False)


def test_verbose_flag_is_taken_out_and_sets_the_environment(quiet_env, monkeypatch):
    assert not console.is_verbose()
    assert console.ray_init_kwargs()["log_to_driver"] is False
    assert console.ray_init_kwargs()["logging_level"] == logging.WARNING
    argv = console.take_verbose_flag(["--optim.epochs", "2", "--verbose"])
    assert argv == ["--optim.epochs", "2"]
    assert console.is_verbose()
    assert console.ray_init_kwargs() == {"log_to_driver": True, "logging_level": logging.INFO,
                                         "configure_logging": True}
    monkeypatch.setenv(console.VERBOSE_ENV, "0")
    assert not console.is_verbose()


@pytest.mark.parametrize("error", [
    ConfigError("data.path", "no manifest.json in /nowhere"),
    FileNotFoundError("pretrained: 'abc' is neither a checkpoint path nor a run ID in sqlite:///x.db"),
    CheckpointError("/tmp/x.pt: not a skelmae checkpoint"),
])
def test_user_error_is_one_line_and_exit_2(quiet_env, capsys, error):
    def main(argv):
        raise error

    assert console.run_job("finetune", main, []) == 2
    out, err = capsys.readouterr()
    assert err.strip().splitlines() == [f"finetune: error: {str(error).splitlines()[0]}"]
    assert "Traceback" not in out + err


def test_user_error_keeps_its_traceback_when_verbose(quiet_env):
    def main(argv):
        raise FileNotFoundError("nope")

    with pytest.raises(FileNotFoundError):
        console.run_job("finetune", main, ["--verbose"])


def test_failed_training_prints_the_worker_cause_and_where_the_log_is(quiet_env, capsys):
    from ray.train import WorkerGroupError

    def main(argv):
        raise WorkerGroupError("Training failed due to worker errors", {0: RuntimeError("injected fault at epoch 1")})

    assert console.run_job("pretrain", main, []) == 1
    _, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert lines[0] == "pretrain: training failed: RuntimeError: injected fault at epoch 1"
    assert lines[1].startswith("pretrain: full log: ")
    assert "Traceback" not in err


def test_a_bug_is_not_hidden(quiet_env):
    def main(argv):
        raise KeyError("a bug, not a user error")

    with pytest.raises(KeyError):
        console.run_job("pretrain", main, [])


# ---------------------------------------------------------------------------- sweep outcome
def test_a_trial_that_ran_every_epoch_is_completed_even_if_asha_stopped_it_at_max_t():
    # ASHA's last decision at max_t comes with the last epoch's report: epoch 3 of 4 (0-based).
    assert epochs_run({"epoch": 3, "training_iteration": 4}) == 4
    assert trial_decision(False, 4, 4, "asha") == "completed"
    assert trial_decision(False, 2, 4, "asha") == "stopped early by ASHA after 2/4 epochs"
    assert trial_decision(False, 2, 4, "fifo") == "stopped early after 2/4 epochs"
    assert trial_decision(True, 4, 4, "asha") == "error"
    # A restarted Train run reports replayed epochs again: Tune's iteration count overstates.
    assert epochs_run({"epoch": 1, "training_iteration": 5}) == 2
    assert epochs_run(None) == 0


def test_close_trial_run_finishes_completed_and_kills_stopped(tmp_path):
    from ray.tune import Result

    from skelmae.tune.sweep import _close_trial_run

    client = MlflowClient(f"sqlite:///{tmp_path}/mlflow.db")
    exp = client.create_experiment("t", artifact_location=str(tmp_path / "art"))
    statuses = {}
    for decision in ("completed", "stopped early by ASHA after 1/4 epochs", "error"):
        run_id = client.create_run(exp).info.run_id
        result = Result(metrics={"score": 0.5, "epoch": 3}, checkpoint=None, error=None, path=str(tmp_path))
        _close_trial_run(client, run_id, result, decision)
        run = client.get_run(run_id)
        statuses[decision] = (run.info.status, run.data.tags["scheduler_decision"], run.data.metrics["final_score"])
    assert statuses["completed"] == ("FINISHED", "completed", 0.5)
    assert statuses["stopped early by ASHA after 1/4 epochs"][0] == "KILLED"
    assert statuses["stopped early by ASHA after 1/4 epochs"][1] == "stopped early by ASHA after 1/4 epochs"
    assert statuses["error"][0] == "FAILED"


def test_final_table_has_every_trial_best_first():
    trials = [
        {"trial_id": "a", "strategy": "random", "mask_ratio": 0.6, "score": 0.41, "epochs_trained": 1,
         "decision": "stopped early by ASHA after 1/4 epochs"},
        {"trial_id": "b", "strategy": "joint", "mask_ratio": 0.9, "score": 0.62, "epochs_trained": 4,
         "decision": "completed"},
        {"trial_id": "c", "strategy": "frame", "mask_ratio": 0.75, "score": math.nan, "epochs_trained": 0,
         "decision": "error"},
    ]
    lines = trial_table(trials).splitlines()
    assert lines[0].split() == ["trial", "strategy", "mask", "ratio", "score", "epochs", "run", "scheduler",
                                "decision"]
    assert [ln.split()[0] for ln in lines[1:]] == ["b", "a", "c"]
    assert lines[1].split()[1:5] == ["joint", "0.90", "0.6200", "4"] and lines[1].endswith("completed")
    assert lines[3].split()[3] == "-"


def test_status_reporter_shows_the_objective():
    from skelmae.config.jobs import SweepConfig
    from skelmae.tune.summary import status_reporter

    reporter = status_reporter(SweepConfig())
    assert "score" in reporter._metric_columns  # the objective is a column of the live table
    assert "params/mask_ratio" in reporter._parameter_columns


# ---------------------------------------------------------------------------- MLflow records
@pytest.fixture
def run_in_store(tmp_path):
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    client = MlflowClient(uri)
    exp = client.create_experiment("records", artifact_location=str(tmp_path / "artifacts"))
    return uri, client, client.create_run(exp).info.run_id


def test_dataset_is_a_run_input_with_the_manifest_digest(tmp_path, run_in_store):
    uri, client, run_id = run_in_store
    data = tmp_path / "data"
    data.mkdir()
    (data / "manifest.json").write_text(json.dumps({"kind": "preprocess", "counts": {"rows_out": 12, "files_in": 13}}))
    run_records.log_dataset_input(uri, run_id, str(data), name="ntu60-xsub")
    inputs = client.get_run(run_id).inputs.dataset_inputs
    assert len(inputs) == 1
    ds = inputs[0].dataset
    assert ds.name == "ntu60-xsub"
    assert ds.digest == manifest_hash(str(data))[:36]
    assert json.loads(ds.source)["uri"] == str(data)
    assert json.loads(ds.profile)["rows"] == 12
    assert {t.key: t.value for t in inputs[0].tags}["mlflow.data.context"] == "training"


def test_checkpoint_is_a_logged_model_of_the_run(tmp_path, run_in_store):
    uri, client, run_id = run_in_store
    ckpt = tmp_path / "checkpoint.pt"
    ckpt.write_bytes(b"weights")
    model_id = run_records.log_checkpoint_model(uri, run_id, str(ckpt), step=3)
    assert model_id
    model = client.get_logged_model(model_id)
    assert model.source_run_id == run_id and model.model_type == run_records.CHECKPOINT_MODEL_TYPE
    assert str(model.status) in ("READY", "LoggedModelStatus.READY")
    assert [o.model_id for o in client.get_run(run_id).outputs.model_outputs] == [model_id]
    files = [f.path for f in client.list_logged_model_artifacts(model_id)]
    assert files == ["checkpoint.pt"]


def test_system_metrics_are_sampled_while_training_runs(run_in_store):
    uri, client, run_id = run_in_store
    with run_records.system_metrics(uri, run_id, sampling_interval=0.2):
        time.sleep(1.5)
    keys = set(client.get_run(run_id).data.metrics)
    assert "system/cpu_utilization_percentage" in keys
    assert "system/system_memory_usage_megabytes" in keys

"""Exactly-once epoch metrics (the controller callback's rules) and the console epoch line, on a real
MLflow SQLite store; the callback is driven the way Ray Train's controller calls it."""

from __future__ import annotations

import threading
import time

from mlflow.tracking import MlflowClient

from skelmae.train.epoch_log import EpochConsole, EpochMetricsLogger, epoch_line

CKPT = object()  # any non-None checkpoint: registered by the controller before after_report


def _report(cb, epoch: int, loss: float, checkpoint=None):
    cb.after_report(None, [{"epoch": epoch, "loss": loss, "lr": 1e-3, "score": 0.5}] * 2, checkpoint)


def test_each_epoch_logged_once_after_its_checkpoint_through_a_restart(tmp_path):
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    client = MlflowClient(uri)
    run_id = client.create_run(client.create_experiment("e")).info.run_id
    cb = EpochMetricsLogger(uri, run_id)
    _report(cb, 0, 1.0, CKPT)
    _report(cb, 1, 0.9)  # no checkpoint: waits
    assert [m.step for m in client.get_metric_history(run_id, "loss")] == [0]
    cb.after_exception(None, {0: RuntimeError("worker died")})  # restart from epoch 0's checkpoint
    _report(cb, 1, 0.8)
    _report(cb, 2, 0.7, CKPT)
    # A resumed driver's callback (fresh object) sees epochs 0-2 again and logs only the new one.
    cb2 = EpochMetricsLogger(uri, run_id)
    _report(cb2, 2, 0.6, CKPT)
    _report(cb2, 3, 0.5, CKPT)
    history = client.get_metric_history(run_id, "loss")
    assert sorted((m.step, m.value) for m in history) == [(0, 1.0), (1, 0.8), (2, 0.7), (3, 0.5)]
    assert len(client.get_metric_history(run_id, "lr")) == 4
    assert "score" not in client.get_run(run_id).data.metrics


def _console_on_a_new_run(tmp_path) -> tuple[EpochConsole, EpochMetricsLogger, list[str]]:
    """A console of 12 epochs writing into a list, and the logger of the same new run."""
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    client = MlflowClient(uri)
    run_id = client.create_run(client.create_experiment("e")).info.run_id
    lines: list[str] = []
    return EpochConsole(uri, run_id, epochs=12, write=lines.append), EpochMetricsLogger(uri, run_id), lines


def test_console_prints_each_logged_epoch_once(tmp_path):
    console, cb, lines = _console_on_a_new_run(tmp_path)
    cb.after_report(None, [{"epoch": 2, "loss": 0.0328, "lr": 1.2e-3, "sequences_per_s": 112.4,
                            "knn_acc": 0.681}], CKPT)
    console.poll()
    console.poll()
    assert len(lines) == 1
    assert lines[0].startswith("epoch 3/12  loss 0.0328  lr 1.2e-3  112 seq/s  knn 0.68  eta ")


def test_two_overlapping_polls_print_an_epoch_once(tmp_path):
    """The console's last poll (on exit) can meet its thread's poll still reading MLflow."""
    console, cb, lines = _console_on_a_new_run(tmp_path)
    cb.after_report(None, [{"epoch": 0, "loss": 0.5}], CKPT)
    read_run = console.client.get_run

    def slow_read(rid):  # between finding the new epoch and printing it: where two polls overlap
        time.sleep(0.5)
        return read_run(rid)

    console.client.get_run = slow_read
    polls = [threading.Thread(target=console.poll) for _ in range(2)]
    for t in polls:
        t.start()
    for t in polls:
        t.join()
    assert len(lines) == 1, lines


def test_epoch_line_format():
    line = epoch_line(2, 12, {"loss": 0.03281, "lr": 0.0012, "sequences_per_s": 112.2, "knn_acc": 0.68}, 100)
    assert line == "epoch 3/12  loss 0.0328  lr 1.2e-3  112 seq/s  knn 0.68  eta 1m40s"


def test_reusing_a_run_name_without_resume_is_an_error_naming_both_choices(tmp_path):
    import pytest

    from data_pipeline.errors import ConfigError
    from skelmae.config.jobs import PretrainConfig
    from skelmae.config.loader import load_config
    from skelmae.train.launcher import start_mlflow_run

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    client = MlflowClient(uri)
    exp = client.create_experiment("names")
    client.create_run(exp, run_name="taken", tags={"job_kind": "pretrain"})
    cfg = load_config(PretrainConfig, ["--tracking.tracking_uri", uri, "--tracking.experiment", "names",
                                       "--tracking.run_name", "taken"])
    with pytest.raises(ConfigError) as e:
        start_mlflow_run("pretrain", cfg, "unused", "taken", unique_name=True)
    assert e.value.field == "tracking.run_name"
    assert "--resume" in str(e.value) and "--tracking.run_name" in str(e.value)
    assert len(client.search_runs([exp])) == 1  # nothing created

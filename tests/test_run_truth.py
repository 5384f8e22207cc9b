"""MLflow tells the truth through real faults, and the recipe does not change with the worker count.

End to end on real local Ray and a real MLflow store, tiny model on the session's synthetic dataset:
a SIGKILLed worker (each epoch still logged once), NaN loss (FAILED, naming epoch and step), SIGTERM
of a driver process (KILLED), `--resume` after a SIGKILLed driver (the same run continues), a restart
that reproduces the uninterrupted run's next epoch, 1 vs 2 workers at one global batch.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from skelmae.config.jobs import PretrainConfig
from skelmae.config.loader import load_config
from skelmae.train.launcher import run_pretrain

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
TINY = ["--model.num_frames", "16", "--optim.batch_size", "16", "--scaling.torch_threads", "1",
        "--knn_every", "0", "--linear_eval", "false"]
WAIT_S = 600  # the machine is shared: generous, but under the 900 s a test may take, so a test fails alone


def _argv(data: str, tmp_path: Path, experiment: str, *extra: str) -> list[str]:
    return ["--data.path", data, "--tracking.storage_path", str(tmp_path / "runs"),
            "--tracking.experiment", experiment, *TINY, *extra]


def _cfg(data, tmp_path, experiment, *extra) -> PretrainConfig:
    return load_config(PretrainConfig, _argv(data, tmp_path, experiment, *extra))


def _history(client: MlflowClient, run_id: str, key: str) -> list[tuple[int, float]]:
    return sorted((m.step, m.value) for m in client.get_metric_history(run_id, key))


def _run_by_name(client: MlflowClient, experiment: str, name: str):
    exp = client.get_experiment_by_name(experiment)
    if exp is None:
        return None
    runs = client.search_runs([exp.experiment_id], f"tags.`mlflow.runName` = '{name}'")
    return runs[0] if runs else None


def _wait_for_epoch(client, experiment: str, name: str, epoch: int, proc=None) -> str:
    """The run's ID once `epoch` is in its loss history."""
    deadline = time.time() + WAIT_S
    while time.time() < deadline:
        run = _run_by_name(client, experiment, name)
        if run and any(m.step >= epoch for m in client.get_metric_history(run.info.run_id, "loss")):
            return run.info.run_id
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"driver exited early ({proc.returncode})")
        time.sleep(0.5)
    raise AssertionError(f"epoch {epoch} of {name} never logged")


def test_sigkilled_worker_recovers_and_each_epoch_is_logged_once(ray_local, mlflow_store, synthetic_dataset,
                                                                 tmp_path, monkeypatch):
    pid_dir = tmp_path / "pids"
    monkeypatch.setenv("SKELMAE_TEST_PID_DIR", str(pid_dir))
    client = MlflowClient(mlflow_store)
    killed: list[int] = []

    def kill_rank0_after_epoch_0():
        try:
            _wait_for_epoch(client, "truth-kill", "killed-worker", 0)
            pid = int((pid_dir / "rank0").read_text())
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
        except Exception as e:  # noqa: BLE001 - reported by the assertion below
            killed.append(-1)
            print(e)

    killer = threading.Thread(target=kill_rank0_after_epoch_0, daemon=True)
    killer.start()
    out = run_pretrain(_cfg(synthetic_dataset, tmp_path, "truth-kill", "--tracking.run_name", "killed-worker",
                            "--optim.epochs", "3", "--max_failures", "2", "--scaling.num_workers", "2",
                            "--scaling.cpus_per_worker", "0.5"))
    killer.join(timeout=30)
    assert killed and killed[0] > 0, "no worker was killed"
    assert int((pid_dir / "rank0").read_text()) != killed[0], "the worker group never restarted"
    assert [s for s, _ in _history(client, out["run_id"], "loss")] == [0, 1, 2]
    assert [s for s, _ in _history(client, out["run_id"], "lr")] == [0, 1, 2]
    assert client.get_run(out["run_id"]).info.status == "FINISHED"


def test_nan_loss_fails_the_run_naming_epoch_and_step(ray_local, mlflow_store, synthetic_dataset, tmp_path):
    import ray.train

    with pytest.raises(ray.train.TrainingFailedError, match=r"non-finite training loss at epoch 0, step \d+"):
        run_pretrain(_cfg(synthetic_dataset, tmp_path, "truth-nan", "--tracking.run_name", "nan-run",
                          "--optim.base_lr", "1e30", "--optim.warmup_epochs", "0", "--optim.grad_clip", "0",
                          "--optim.epochs", "2"))
    run = _run_by_name(MlflowClient(mlflow_store), "truth-nan", "nan-run")
    assert run.info.status == "FAILED"
    assert "non-finite training loss at epoch 0, step" in run.data.tags["end_reason"]


@pytest.mark.timeout(2400)  # three trainings on a shared 2-core machine
def test_restart_reproduces_the_next_epoch_and_two_workers_step_like_one(ray_local, mlflow_store, synthetic_dataset,
                                                                          tmp_path):
    client = MlflowClient(mlflow_store)
    common = ("--optim.epochs", "3", "--scaling.cpus_per_worker", "0.5")
    straight = run_pretrain(_cfg(synthetic_dataset, tmp_path, "truth-repro", *common, "--scaling.num_workers", "1"))
    crashed = run_pretrain(_cfg(synthetic_dataset, tmp_path, "truth-repro", *common, "--scaling.num_workers", "1",
                                "--fail_at_epoch", "2", "--max_failures", "1"))
    assert (tmp_path / "runs" / crashed["run_name"] / "injected_fault").is_file()
    a, b = _history(client, straight["run_id"], "loss"), _history(client, crashed["run_id"], "loss")
    # Each epoch trained and logged exactly once across the crash and the restart, and the run finished.
    assert [s for s, _ in b] == [0, 1, 2]
    assert client.get_run(crashed["run_id"]).info.status == "FINISHED"
    assert b[2][1] == pytest.approx(a[2][1], rel=1e-9, abs=0)

    # The recipe does not change with the worker count: at one global batch, 2 workers take the same
    # optimizer steps at the same learning rates as 1.
    two = run_pretrain(_cfg(synthetic_dataset, tmp_path, "truth-repro", *common, "--scaling.num_workers", "2"))
    steps = _history(client, straight["run_id"], "steps")
    assert steps == _history(client, two["run_id"], "steps") and steps[0][1] > 1
    assert _history(client, straight["run_id"], "lr") == _history(client, two["run_id"], "lr")
    params = client.get_run(two["run_id"]).data.params
    assert float(params["optim.lr"]) == pytest.approx(float(params["optim.base_lr"]) * 16 / 256)


def _driver(tmp_path: Path, data: str, tracking_uri: str, experiment: str, name: str, epochs: int) -> subprocess.Popen:
    env = {**os.environ, "RAY_ADDRESS": "local", "MLFLOW_TRACKING_URI": tracking_uri}
    argv = [sys.executable, str(REPO / "jobs" / "pretrain.py"),
            *_argv(data, tmp_path, experiment, "--tracking.run_name", name, "--optim.epochs", str(epochs),
                   "--scaling.cpus_per_worker", "0.5", "--tracking.tracking_uri", tracking_uri)]
    # Its own session: the Ray processes it starts can be stopped with it (`_stop`), and only those.
    return subprocess.Popen(argv, cwd=tmp_path, env=env, stdout=open(tmp_path / f"{name}.log", "wb"),
                            stderr=subprocess.STDOUT, start_new_session=True)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def test_sigterm_of_the_driver_marks_the_run_killed(synthetic_dataset, mlflow_store, tmp_path):
    client = MlflowClient(mlflow_store)
    proc = _driver(tmp_path, synthetic_dataset, mlflow_store, "truth-term", "terminated", epochs=30)
    try:
        run_id = _wait_for_epoch(client, "truth-term", "terminated", 0, proc)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=180) == 130, (tmp_path / "terminated.log").read_text()[-3000:]
    finally:
        _stop(proc)
    run = client.get_run(run_id)
    assert run.info.status == "KILLED"
    assert "interrupted" in run.data.tags["end_reason"]


@pytest.mark.timeout(1800)  # two trainings on a shared 2-core machine
def test_resume_after_a_sigkilled_driver_continues_the_same_run(ray_local, synthetic_dataset, mlflow_store, tmp_path):
    client = MlflowClient(mlflow_store)
    proc = _driver(tmp_path, synthetic_dataset, mlflow_store, "truth-resume", "crashed-driver", epochs=2)
    try:
        run_id = _wait_for_epoch(client, "truth-resume", "crashed-driver", 0, proc)
        proc.kill()  # SIGKILL: nothing in the driver runs; the run stays RUNNING
        proc.wait(timeout=60)
    finally:
        _stop(proc)
    # Without --resume the name is taken.
    from data_pipeline.errors import ConfigError

    argv = _argv(synthetic_dataset, tmp_path, "truth-resume", "--tracking.run_name", "crashed-driver",
                 "--optim.epochs", "2", "--scaling.cpus_per_worker", "0.5", "--tracking.tracking_uri", mlflow_store)
    with pytest.raises(ConfigError, match="--resume"):
        run_pretrain(load_config(PretrainConfig, argv))
    out = run_pretrain(load_config(PretrainConfig, [*argv, "--resume"]))
    assert out["run_id"] == run_id
    assert [s for s, _ in _history(client, run_id, "loss")] == [0, 1]
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert "Resumed" in run.data.tags["mlflow.note.content"] and run.data.tags["resume_count"] == "1"

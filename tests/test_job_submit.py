"""`ray start --head` on 127.0.0.1 and `ray job submit` of jobs/pretrain.py: the way users run it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import pytest
from mlflow.tracking import MlflowClient

from tests.cluster_box import free_port

# End to end: starts a Ray cluster and submits a training job.
pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = str(Path(sys.executable).parent)


def _ray(args: list[str], env: dict, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([os.path.join(VENV_BIN, "ray"), *args], env=env, cwd=REPO, capture_output=True,
                          text=True, timeout=timeout)


def _stop_own_cluster(temp_dir: str) -> None:
    """Stop the processes of the cluster started with `--temp-dir temp_dir`, by PID.

    `ray stop` (with or without --force) kills every Ray process of the user on the machine, other
    sessions' clusters included; every process of ours names its own temp dir on its command line.
    """
    ours = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        try:
            if proc.pid != os.getpid() and temp_dir in " ".join(proc.info["cmdline"] or ()):
                ours.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    for proc in ours:
        try:
            proc.terminate()
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(ours, timeout=20)
    for proc in alive:
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            pass


def test_ray_job_submit_pretrain(synthetic_dataset, tmp_path):
    import ray

    # Stop the session's local instance (the next test restarts it) so the two never share the 2 CPUs.
    ray.shutdown()
    # Its own temp dir (short: Ray's socket paths must fit in 107 bytes) keeps this cluster's address
    # file and processes apart from any other Ray on the machine.
    temp_dir = tempfile.mkdtemp(prefix="rayjs-", dir="/tmp")
    # `ray start` must run from the venv: the job's `python` comes from that process's PATH.
    env = {**os.environ, "PATH": f"{VENV_BIN}:{os.environ['PATH']}", "RAY_AUTH_MODE": "token",
           "RAY_USAGE_STATS_ENABLED": "0"}
    dash = free_port()
    tracking = f"sqlite:///{tmp_path / 'mlflow.db'}"
    start = _ray(["start", "--head", f"--port={free_port()}", "--node-ip-address=127.0.0.1",
                  "--dashboard-host=127.0.0.1", f"--dashboard-port={dash}", "--num-cpus=2",
                  f"--temp-dir={temp_dir}", "--disable-usage-stats"], env)
    assert start.returncode == 0, start.stdout + start.stderr
    # The job's copy of the working dir has no .git: the commit travels in the runtime environment.
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip()
    runtime_env = json.dumps({"env_vars": {"SKELMAE_GIT_COMMIT": commit}})
    try:
        deadline = time.time() + 60
        submit = None
        while time.time() < deadline:
            submit = _ray(["job", "submit", "--address", f"http://127.0.0.1:{dash}", "--working-dir", ".",
                           "--runtime-env-json", runtime_env,
                           "--", "python", "jobs/pretrain.py", "--data.path", synthetic_dataset,
                           "--optim.epochs", "1", "--linear_eval", "false", "--model.num_frames", "16",
                           "--tracking.tracking_uri", tracking, "--tracking.experiment", "job-submit",
                           "--tracking.storage_path", str(tmp_path / "runs")], env, timeout=600)
            # The dashboard's job API comes up a moment after `ray start` returns, and its agent on the
            # head node a moment after that ("No available agent ... try again later").
            if not any(m in submit.stderr for m in ("Connection refused", "try again later")):
                break
            time.sleep(2)
        out = submit.stdout + submit.stderr
        assert submit.returncode == 0, out[-4000:]
        assert "succeeded" in out
    finally:
        _stop_own_cluster(temp_dir)
        shutil.rmtree(temp_dir, ignore_errors=True)
    runs = MlflowClient(tracking).search_runs(
        [MlflowClient(tracking).get_experiment_by_name("job-submit").experiment_id]
    )
    assert len(runs) == 1 and runs[0].info.status == "FINISHED"
    assert runs[0].data.tags["git_commit"] == commit
    assert [m.step for m in MlflowClient(tracking).get_metric_history(runs[0].info.run_id, "loss")] == [0]

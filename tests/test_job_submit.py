"""`ray start --head` on 127.0.0.1 and `ray job submit` of jobs/pretrain.py: the way users run it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

# End to end: starts a Ray cluster and submits a training job.
pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = str(Path(sys.executable).parent)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ray(args: list[str], env: dict, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([os.path.join(VENV_BIN, "ray"), *args], env=env, cwd=REPO, capture_output=True,
                          text=True, timeout=timeout)


def test_ray_job_submit_pretrain(synthetic_dataset, tmp_path):
    import ray

    # One Ray per machine at a time here: stop the session's local instance (the next test restarts
    # it) so `ray stop` below cannot take it down mid-test and the two never share the 2 CPUs.
    ray.shutdown()
    # `ray start` must run from the venv: the job's `python` comes from that process's PATH.
    env = {**os.environ, "PATH": f"{VENV_BIN}:{os.environ['PATH']}", "RAY_AUTH_MODE": "token",
           "RAY_USAGE_STATS_ENABLED": "0"}
    dash = _free_port()
    tracking = f"sqlite:///{tmp_path / 'mlflow.db'}"
    start = _ray(["start", "--head", f"--port={_free_port()}", "--node-ip-address=127.0.0.1",
                  "--dashboard-host=127.0.0.1", f"--dashboard-port={dash}", "--num-cpus=2",
                  "--disable-usage-stats"], env)
    assert start.returncode == 0, start.stdout + start.stderr
    try:
        deadline = time.time() + 60
        submit = None
        while time.time() < deadline:
            submit = _ray(["job", "submit", "--address", f"http://127.0.0.1:{dash}", "--working-dir", ".",
                           "--", "python", "jobs/pretrain.py", "--data.path", synthetic_dataset,
                           "--optim.epochs", "1", "--linear_eval", "false", "--model.num_frames", "16",
                           "--tracking.tracking_uri", tracking, "--tracking.experiment", "job-submit",
                           "--tracking.storage_path", str(tmp_path / "runs")], env, timeout=600)
            if "Connection refused" not in submit.stderr:
                break
            time.sleep(2)  # the dashboard's job API comes up a moment after `ray start` returns
        out = submit.stdout + submit.stderr
        assert submit.returncode == 0, out[-4000:]
        assert "succeeded" in out
    finally:
        _ray(["stop", "--force"], env, timeout=120)
    runs = MlflowClient(tracking).search_runs(
        [MlflowClient(tracking).get_experiment_by_name("job-submit").experiment_id]
    )
    assert len(runs) == 1 and runs[0].info.status == "FINISHED"
    assert [m.step for m in MlflowClient(tracking).get_metric_history(runs[0].info.run_id, "loss")] == [0]

"""The MLflow UI opens the platform's experiments on their runs: the address the jobs print, loaded in
real headless Chromium against a real `mlflow server`. And the link itself, for each kind of store."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from browser_check import find_chromium, load_in_chromium, png_stats
from mlflow.tracking import MlflowClient

from skelmae.track.conventions import (
    EXPERIMENT_KIND_TAG,
    TRAINING_EXPERIMENT_KIND,
    ensure_experiment,
    experiment_ui_url,
)

# Set to a folder to keep screenshots of both pages (1400x900) for a note; the test checks them too.
SCREENS_ENV = "SKELMAE_MLFLOW_SCREENS"


def _log_small_run(client: MlflowClient, experiment_id: str, run_name: str, lr: float) -> str:
    run = client.create_run(experiment_id, run_name=run_name)
    run_id = run.info.run_id
    client.log_param(run_id, "optim.lr", lr)
    client.log_param(run_id, "model.mask_ratio", 0.9)
    for step, loss in enumerate((1.0, 0.5)):
        client.log_metric(run_id, "loss", loss * lr * 100, step=step)
    client.set_terminated(run_id, status="FINISHED")
    return run_id


@pytest.mark.slow
def test_printed_link_opens_the_experiment_on_its_runs(mlflow_server, tmp_path):
    if find_chromium() is None:
        pytest.skip("no Chromium to load the MLflow UI in")
    # The experiment as every job makes it (the launcher's and the sweep's path).
    experiment_id = ensure_experiment(f"ui-check-{uuid.uuid4().hex[:6]}", mlflow_server)
    client = MlflowClient(mlflow_server)
    assert client.get_experiment(experiment_id).tags[EXPERIMENT_KIND_TAG] == TRAINING_EXPERIMENT_KIND
    names = [f"pretrain-ui-{uuid.uuid4().hex[:8]}", f"pretrain-ui-{uuid.uuid4().hex[:8]}"]
    for name, lr in zip(names, (0.004, 0.008), strict=True):
        _log_small_run(client, experiment_id, name, lr)

    link = experiment_ui_url(mlflow_server, experiment_id)
    assert link == f"{mlflow_server}/#/experiments/{experiment_id}/runs?workflowType=machine_learning"
    screens = Path(os.environ[SCREENS_ENV]) if os.environ.get(SCREENS_ENV) else None

    dom = load_in_chromium(link, screens / "mlflow_runs.png" if screens else None)
    # The runs table: every run by name, and the UI in its model-training mode, not the GenAI overview.
    for name in names:
        assert name in dom, f"run {name} not on the page at {link}:\n{dom[-3000:]}"
    assert "Overview" not in dom

    # Why the link carries the parameter: a fresh browser at the experiment's plain address lands on the
    # GenAI overview (MLflow 3.17's default mode), which lists no run. If this fails, the UI changed its
    # default and the README's note on `workflowType` is out of date.
    plain = f"{mlflow_server}/#/experiments/{experiment_id}"
    default_dom = load_in_chromium(plain, screens / "mlflow_default.png" if screens else None)
    assert "Overview" in default_dom
    assert not any(name in default_dom for name in names)

    if screens:
        for shot in ("mlflow_runs.png", "mlflow_default.png"):
            width, height, spread = png_stats((screens / shot).read_bytes())
            assert (width, height) == (1400, 900) and spread > 5, shot


@pytest.mark.parametrize(("tracking_uri", "expected_base"), [
    ("http://127.0.0.1:5917", "http://127.0.0.1:5917"),
    ("http://127.0.0.1:5917/", "http://127.0.0.1:5917"),
    ("https://alice:s3cret@mlflow.example.com/mlflow/?token=x#frag", "https://mlflow.example.com/mlflow"),
    ("http://[::1]:8080", "http://[::1]:8080"),
    ("sqlite:////home/me/mlflow.db", "http://127.0.0.1:5000"),
    ("file:///home/me/mlruns", "http://127.0.0.1:5000"),
    ("postgresql://u:p@db:5432/mlflow", "http://127.0.0.1:5000"),
])
def test_experiment_ui_url_points_at_the_server_or_at_mlflow_ui(tracking_uri, expected_base):
    url = experiment_ui_url(tracking_uri, "12")
    assert url == f"{expected_base}/#/experiments/12/runs?workflowType=machine_learning"
    assert "s3cret" not in url and "token" not in url

"""Shared, real infrastructure for the test session: one local Ray, one MLflow tracking store.

Starting Ray costs ~5 s and an MLflow server ~5 s, so each is started once per session and torn
down at the end. Everything binds to 127.0.0.1.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.cluster_box import MLFLOW_SERVER_ENV, free_port

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO", "0")
os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]
# A test that uses one of these starts a real Ray instance, trains, or starts a server: end to end, so
# `pytest -m "not slow"` (everyday work) leaves it out and CI's full run keeps it.
END_TO_END_FIXTURES = {"ray_local", "synthetic_dataset", "trained_classifier", "mlflow_server"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if END_TO_END_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


def _init_ray():
    import ray

    if not ray.is_initialized():
        # The dashboard serves the state API, which Ray Train's placement-group cleaner needs to free
        # the workers of trials that Tune stops early; without it their CPUs stay held.
        ray.init(
            num_cpus=2,
            include_dashboard=True,
            dashboard_host="127.0.0.1",
            _node_ip_address="127.0.0.1",
            configure_logging=False,
        )
    return ray


@pytest.fixture(scope="session")
def _ray_session():
    yield
    import ray

    ray.shutdown()


@pytest.fixture
def ray_local(_ray_session):
    """A real local Ray instance (2 CPUs, loopback), shared across the session.

    Function-scoped so a test that must stop it (the `ray start` / `ray job submit` test) can, and
    the next test brings it back.
    """
    return _init_ray()


@pytest.fixture(scope="session")
def synthetic_dataset(tmp_path_factory, _ray_session) -> str:
    """A small synthetic NTU-format dataset, preprocessed to Parquet once per session."""
    from data_pipeline.pipeline import run_preprocess
    from data_pipeline.process import PreprocessConfig
    from data_pipeline.synthetic import generate_dataset

    root = tmp_path_factory.mktemp("synthetic")
    generate_dataset(str(root / "raw"), 160, seed=0)
    _init_ray()
    run_preprocess(str(root / "raw"), str(root / "parquet"), dataset="ntu60", cfg=PreprocessConfig())
    return str(root / "parquet")


@pytest.fixture(scope="session")
def mlflow_store(tmp_path_factory) -> str:
    """A real MLflow tracking store (SQLite + artifact dir) at an absolute URI for the session."""
    root = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{root}/mlflow.db"
    os.environ["MLFLOW_TRACKING_URI"] = uri
    return uri


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory):
    """A real `mlflow server` on 127.0.0.1 with its own SQLite store; yields its http URI."""
    root = tmp_path_factory.mktemp("mlflow_server")
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "mlflow", "server",
            "--host", "127.0.0.1", "--port", str(port),
            "--backend-store-uri", f"sqlite:///{root}/mlflow.db",
            "--default-artifact-root", str(root / "artifacts"),
            "--workers", "1",
        ],
        stdout=open(root / "server.log", "wb"),
        stderr=subprocess.STDOUT,
        env={**os.environ, **MLFLOW_SERVER_ENV},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            time.sleep(0.5)
        if proc.poll() is not None:
            raise RuntimeError(f"mlflow server exited: {(root / 'server.log').read_text()[-2000:]}")
    else:
        proc.kill()
        raise RuntimeError("mlflow server did not answer /health in 90 s")
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="session")
def trained_classifier(tmp_path_factory, _ray_session, mlflow_server, synthetic_dataset) -> dict:
    """A tiny classifier trained once, tracked on the MLflow server: pretrain -> fine-tune -> registered
    model with alias `champion`.

    Returns dict(run_id, model_uri, name, version, checkpoint, pretrain_checkpoint, pretrain_run_id,
    tracking_uri, num_frames, val_acc).
    """
    from skelmae.config.jobs import FinetuneConfig, PretrainConfig
    from skelmae.config.loader import load_config
    from skelmae.serve.registry import promote
    from skelmae.train.launcher import run_finetune, run_pretrain

    root = tmp_path_factory.mktemp("classifier")
    name = "skelmae-test-classifier"
    # One worker at 1 CPU leaves the other core to Ray Data.
    common = ["--data.path", synthetic_dataset, "--tracking.storage_path", str(root / "runs"),
              "--tracking.experiment", "test-predict", "--tracking.tracking_uri", mlflow_server,
              "--model.num_frames", "16", "--optim.batch_size", "16", "--scaling.torch_threads", "1"]
    _init_ray()
    pre = run_pretrain(load_config(PretrainConfig, [
        *common, "--optim.epochs", "1", "--linear_eval", "false", "--knn_every", "0"]))
    ft = run_finetune(load_config(FinetuneConfig, [
        *common, "--pretrained", pre["run_id"], "--optim.epochs", "6", "--optim.batch_size", "8",
        "--optim.base_lr", "0.096", "--optim.warmup_epochs", "1", "--register_as", name]))
    version = promote(ft["run_id"], name, "champion", mlflow_server)
    return {"run_id": ft["run_id"], "model_uri": ft["model_uri"], "name": name, "version": version,
            "checkpoint": ft["checkpoint"], "pretrain_checkpoint": pre["checkpoint"],
            "pretrain_run_id": pre["run_id"], "tracking_uri": mlflow_server, "num_frames": 16,
            "val_acc": ft["metrics"].get("val_acc"), "epochs": 6, "data_path": synthetic_dataset}

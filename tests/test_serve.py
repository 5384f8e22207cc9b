"""The registered classifier behind `mlflow models serve`: a real HTTP request, the labels of jobs/predict.py."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from data_pipeline.synthetic import generate_dataset
from skelmae.serve.predict import MAX_BATCH, prepare_file
from tests.cluster_box import free_port

# End to end: trains a classifier and starts `mlflow models serve`.
pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = str(Path(sys.executable).parent)


def _get(url: str) -> int:
    with urllib.request.urlopen(url, timeout=5) as r:
        return r.status


@pytest.fixture
def served_champion(trained_classifier, tmp_path):
    """`mlflow models serve -m models:/NAME@champion` on 127.0.0.1 in this environment; yields its URL."""
    port = free_port()
    # The server runs `uvicorn` from PATH: the project's venv, nothing installed (--env-manager local).
    env = {**os.environ, "PATH": VENV_BIN + os.pathsep + os.environ.get("PATH", ""),
           "MLFLOW_TRACKING_URI": trained_classifier["tracking_uri"]}
    log = tmp_path / "serve.log"
    proc = subprocess.Popen(
        [os.path.join(VENV_BIN, "mlflow"), "models", "serve", "-m", f"models:/{trained_classifier['name']}@champion",
         "--env-manager", "local", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        env=env, stdout=open(log, "wb"), stderr=subprocess.STDOUT, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 180
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"mlflow models serve exited {proc.returncode}: {log.read_text()[-3000:]}")
            try:
                if _get(f"{url}/ping") == 200:
                    break
            except OSError:
                pass
            if time.time() > deadline:
                raise RuntimeError(f"mlflow models serve did not answer /ping in 180 s: {log.read_text()[-3000:]}")
            time.sleep(1)
        yield url, log
    finally:
        # uvicorn runs in the serve command's process group: stop them all.
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_served_model_answers_with_the_labels_of_predict(trained_classifier, served_champion, tmp_path):
    url, log = served_champion
    files = generate_dataset(str(tmp_path / "raw"), 10, seed=11)
    # The request body the README shows: inputs = [N, T, 2, 25, 3] floats from prepare_file.
    x = np.stack([prepare_file(f, trained_classifier["num_frames"]) for f in files])
    body = json.dumps({"inputs": x.tolist()}).encode()
    req = urllib.request.Request(f"{url}/invocations", data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as r:
        assert r.status == 200
        probs = np.asarray(json.loads(r.read())["predictions"])  # [N, K]
    assert probs.shape == (len(files), 60)
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-4)

    p = subprocess.run(
        [sys.executable, str(REPO / "jobs/predict.py"), "--json", "--model",
         f"models:/{trained_classifier['name']}@champion", *files],
        capture_output=True, text=True, timeout=300, cwd=REPO,
        env={**os.environ, "MLFLOW_TRACKING_URI": trained_classifier["tracking_uri"]},
    )
    assert p.returncode == 0, p.stderr
    cli = {d["file"]: d["top"][0]["label"] for d in map(json.loads, p.stdout.splitlines())}
    served = dict(zip(files, probs.argmax(1).tolist(), strict=True))
    assert served == cli
    # Nothing was installed to serve: the model ran in this environment.
    assert "pip install" not in log.read_text()


def test_promote_registers_a_run_and_moves_the_alias(trained_classifier):
    from mlflow.tracking import MlflowClient

    from skelmae.serve.registry import promote

    uri, run = trained_classifier["tracking_uri"], trained_classifier["run_id"]
    client = MlflowClient(uri)
    # Already registered by fine-tuning (--register_as): the existing version gets the alias.
    assert client.get_model_version_by_alias(trained_classifier["name"], "champion").run_id == run
    assert promote(run, trained_classifier["name"], "champion", uri) == trained_classifier["version"]
    # Not yet registered under this name: a new registered model, version 1, alias set.
    assert promote(run, "skelmae-test-promoted", "staging", uri) == "1"
    mv = client.get_model_version_by_alias("skelmae-test-promoted", "staging")
    assert (str(mv.version), mv.run_id) == ("1", run)
    with pytest.raises(Exception, match="no-such-run"):
        promote("no-such-run", "skelmae-test-promoted", "staging", uri)
    with pytest.raises(ValueError, match="logged no classifier"):
        promote(trained_classifier["pretrain_run_id"], "skelmae-test-promoted", "staging", uri)


def _post(url: str, body: bytes) -> tuple[int, str]:
    req = urllib.request.Request(f"{url}/invocations", data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_served_model_refuses_non_finite_oversized_and_misshapen_input(trained_classifier, served_champion):
    url, _ = served_champion
    t = trained_classifier["num_frames"]
    x = np.zeros((2, t, 2, 25, 3), np.float32)
    status, text = _post(url, json.dumps({"inputs": x.tolist()}).encode())
    assert status == 200, text
    # JSON has no NaN/Infinity, but Python clients (json.dumps) send them as bare tokens.
    for bad in ("NaN", "Infinity", "-Infinity"):
        body = json.dumps({"inputs": x.tolist()}).replace("0.0", bad, 1).encode()
        status, text = _post(url, body)
        assert status == 400, (bad, status, text[:500])
        assert "non-finite values (NaN or inf) in sequence(s) [0]" in text
    big = np.zeros((MAX_BATCH + 1, t, 2, 25, 3), np.float32)
    status, text = _post(url, json.dumps({"inputs": big.tolist()}).encode())
    assert status == 400 and f"exceeds the maximum batch of {MAX_BATCH}" in text, (status, text[-500:])
    status, text = _post(url, json.dumps({"inputs": np.zeros((2, t + 1, 2, 25, 3), np.float32).tolist()}).encode())
    assert status == 400 and "shape" in text.lower(), (status, text[-500:])


def test_logged_model_holds_no_pickle(trained_classifier):
    """The classifier is logged as code + a weights_only state dict + JSON config: nothing to unpickle."""
    import mlflow
    import yaml

    from skelmae.track.conventions import tracking_uri_set_to

    # MLflow resolves a run's logged model through the process's tracking URI, whatever `tracking_uri=` says.
    with tracking_uri_set_to(trained_classifier["tracking_uri"]):
        local = Path(mlflow.artifacts.download_artifacts(trained_classifier["model_uri"]))
    files = sorted(str(p.relative_to(local)) for p in local.rglob("*") if p.is_file())
    assert not [f for f in files if f.endswith((".pkl", ".pickle", ".cloudpickle"))], files
    flavor = yaml.safe_load((local / "MLmodel").read_text())["flavors"]["python_function"]
    assert "python_model" not in flavor and flavor.get("model_code_path"), flavor
    assert "pytorch" not in yaml.safe_load((local / "MLmodel").read_text())["flavors"]
    import torch

    state = torch.load(local / "artifacts" / "weights.pt", weights_only=True)
    assert all(isinstance(v, torch.Tensor) for v in state.values())

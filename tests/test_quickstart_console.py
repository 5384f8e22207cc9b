"""The quickstart as a new user runs it (`python jobs/pretrain.py`, a subprocess) and what its console shows.

Shortened (2 epochs, 160 synthetic samples, a private cache and store) to fit a test; the console's
shape is the default's: data generation and preprocessing, one line per epoch, the linear evaluation,
the summary.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EPOCHS = 2
# The per-epoch line (`epoch 3/12  loss 0.0328  lr 1.2e-3  112 seq/s  knn 0.68  eta 1m40s`) is printed by
# the training loop's driver-side reporting (issue 15); this pattern is written against that format.
EPOCH_LINE = re.compile(
    r"\bepoch (?P<i>\d+)/(?P<n>\d+)\s+loss [-+.\deE]+\s+lr [-+.\deE]+\s+[\d.]+ seq/s\b.*\beta \S+"
)
NOISE = ("Traceback", "Reporting training result", "DeprecationWarning", "tqdm is not installed",
         "Token authentication is enabled", "INFO streaming_executor", "(RayTrainWorker", "(raylet)")


@pytest.mark.slow
def test_quickstart_console_is_short_and_shows_each_epoch(tmp_path):
    env = {**os.environ, "RAY_ADDRESS": "local"}
    env.pop("SKELMAE_VERBOSE", None)
    env.pop("MLFLOW_TRACKING_URI", None)  # the quickstart's own default store: ./mlflow.db in its folder
    cmd = [sys.executable, str(ROOT / "jobs" / "pretrain.py"), "--optim.epochs", str(EPOCHS), "--knn_every", "1",
           "--data.synthetic_samples", "160", "--data.cache_dir", str(tmp_path / "cache"),
           "--tracking.storage_path", str(tmp_path / "runs")]
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=840)
    console = proc.stdout + proc.stderr
    assert proc.returncode == 0, console[-3000:]
    lines = console.splitlines()

    assert len(lines) < 60, console
    for noise in NOISE:
        assert noise not in console, f"{noise!r} reached the console:\n{console}"
    # The platform's summary.
    assert any(ln.startswith("pretrain MLflow run : ") for ln in lines)
    assert any(ln.startswith("linear eval         : linear_acc=") for ln in lines)
    # The address that opens the experiment on its runs (tests/test_mlflow_ui.py loads such a link).
    assert any(re.fullmatch(r"then open           : http://127\.0\.0\.1:5000/#/experiments/\d+/runs"
                            r"\?workflowType=machine_learning", ln) for ln in lines), console
    # The evaluation's progress, drawn on the driver from the workers' counts; piped: plain lines.
    progress = [ln for ln in lines if ln.startswith("linear eval features: ")]
    assert progress and re.match(r"linear eval features: (\d+)/\1 sequences \(100%\)", progress[-1]), console
    assert (tmp_path / "mlflow.db").is_file()

    # Depends on the training loop's per-epoch line (issue 15): exactly one line per epoch, in order.
    epochs = [(int(m["i"]), int(m["n"])) for m in map(EPOCH_LINE.search, lines) if m]
    assert epochs == [(i, EPOCHS) for i in range(1, EPOCHS + 1)], console

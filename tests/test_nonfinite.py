"""No label is ever computed from NaN/inf: jobs/predict.py and Predictor refuse such input by file name.

A random-init classifier checkpoint (saved the way fine-tuning saves one) stands in for a trained model:
what is checked is the refusal, not accuracy.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from data_pipeline.synthetic import generate_dataset
from skelmae.inference import MAX_BATCH, Predictor
from skelmae.model import SkeletonClassifier
from skelmae.model_config import ModelConfig

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> str:
    torch.manual_seed(0)
    cfg = ModelConfig(preset="tiny", num_frames=16)
    path = tmp_path_factory.mktemp("ckpt") / "checkpoint.pt"
    torch.save({"model": SkeletonClassifier(cfg, 60).state_dict(), "model_config": dataclasses.asdict(cfg),
                "num_classes": 60, "config": {"data": {"eval_crop": 0.95}}}, path)
    return str(path)


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> list[str]:
    """Two good recordings and one whose coordinates hold `nan` and `inf` (a broken capture)."""
    d = tmp_path_factory.mktemp("raw")
    good = generate_dataset(str(d / "good"), 2, seed=5)
    lines = Path(good[0]).read_text().splitlines()
    # Joint lines hold 12 numbers (x y z depth colour orientation state); poison the first two.
    joints = [i for i, line in enumerate(lines) if len(line.split()) == 12]
    for i, word in zip(joints[:2], ["nan", "inf"], strict=True):
        parts = lines[i].split()
        parts[0] = word
        lines[i] = " ".join(parts)
    bad = d / "broken-capture.skeleton"
    bad.write_text("\n".join(lines) + "\n")
    return [good[0], str(bad), good[1]]


def test_predictor_never_labels_non_finite_input(checkpoint, files):
    p = Predictor(checkpoint)
    preds, failed = p.predict_files(files)
    assert [x.file for x in preds] == [files[0], files[2]]
    assert [f for f, _ in failed] == [files[1]]
    assert "non-finite" in failed[0][1] or "nan" in failed[0][1].lower()
    x = np.stack([p.prepare(files[0])] * 2)
    x[1, 3, 0, 4, 1] = np.nan
    with pytest.raises(ValueError, match=r"sequence\(s\) \[1\] hold non-finite values"):
        p.probabilities(x)


def test_predict_job_reports_the_file_and_prints_no_label_for_it(checkpoint, files):
    r = subprocess.run([sys.executable, str(REPO / "jobs/predict.py"), "--json", "--model", checkpoint, *files],
                       capture_output=True, text=True, timeout=120, cwd=REPO)
    assert r.returncode == 1, r.stderr
    assert files[1] not in r.stdout and "NaN" not in r.stdout
    assert len(r.stdout.splitlines()) == 2
    assert any(line.startswith(f"FAILED {files[1]}: ") for line in r.stderr.splitlines()), r.stderr


def test_a_model_that_returns_nan_labels_nothing(checkpoint, files, tmp_path):
    """Broken weights (NaN) give NaN probabilities: reported per file, not printed as a label."""
    state = torch.load(checkpoint, weights_only=True)
    state["model"]["head.bias"][:] = float("nan")
    broken = tmp_path / "nan-weights.pt"
    torch.save(state, broken)
    preds, failed = Predictor(str(broken)).predict_files([files[0]])
    assert preds == [] and failed == [(files[0], "the model returned non-finite probabilities: not predicted")]


def test_served_model_check_refuses_nan_inf_and_oversized_batches():
    from mlflow.exceptions import MlflowException

    from skelmae.served_classifier import check_batch

    x = np.zeros((3, 16, 2, 25, 3), np.float32)
    check_batch(x)
    x[2, 0, 0, 0, 0] = np.inf
    with pytest.raises(MlflowException, match=r"non-finite values \(NaN or inf\) in sequence\(s\) \[2\]") as e:
        check_batch(x)
    assert e.value.get_http_status_code() == 400
    with pytest.raises(MlflowException, match=f"exceeds the maximum batch of {MAX_BATCH}") as e:
        check_batch(np.zeros((MAX_BATCH + 1, 1), np.float32))
    assert e.value.get_http_status_code() == 400

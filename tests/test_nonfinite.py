"""No label is ever computed from NaN/inf: jobs/predict.py and Predictor refuse such input by file name.

A random-init classifier checkpoint (saved the way fine-tuning saves one) stands in for a trained model:
what is checked is the refusal, not accuracy.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from data_pipeline.synthetic import generate_dataset
from skelmae.model.config import ModelConfig
from skelmae.model.mae import SkeletonClassifier
from skelmae.serve.predict import MAX_BATCH, Predictor

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> str:
    torch.manual_seed(0)
    cfg = ModelConfig(preset="tiny", num_frames=16)
    path = tmp_path_factory.mktemp("ckpt") / "checkpoint.pt"
    torch.save({"model": SkeletonClassifier(cfg, 60).state_dict(), "model_config": cfg.model_dump(mode="json"),
                "num_classes": 60, "config": {"data": {"eval_crop": 0.95}}}, path)
    return str(path)


def _poisoned(src: str, dst: Path, word: str) -> str:
    """A copy of `src` whose first three joints' x is `word`."""
    lines = Path(src).read_text().splitlines()
    joints = [i for i, line in enumerate(lines) if len(line.split()) == 12]  # x y z depth colour orient state
    for i in joints[:3]:
        parts = lines[i].split()
        parts[0] = word
        lines[i] = " ".join(parts)
    dst.write_text("\n".join(lines) + "\n")
    return str(dst)


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> list[str]:
    """[good, nan in the file, finite in float64 but not in float32, good]."""
    d = tmp_path_factory.mktemp("raw")
    good = generate_dataset(str(d / "good"), 2, seed=5)
    return [good[0], _poisoned(good[0], d / "nan-capture.skeleton", "nan"),
            _poisoned(good[0], d / "overflow-capture.skeleton", "1e39"), good[1]]


def test_predictor_never_labels_non_finite_input(checkpoint, files):
    p = Predictor(checkpoint)
    preds, failed = p.predict_files(files)
    assert [x.file for x in preds] == [files[0], files[3]]
    reasons = dict(failed)
    assert sorted(reasons) == sorted(files[1:3])
    # The parser refuses both: nan, and 1e39 (finite in float64, not in float32).
    assert "not a finite float32 number" in reasons[files[1]]
    assert "not a finite float32 number" in reasons[files[2]]
    x = np.stack([p.prepare(files[0])] * 2)
    x[1, 3, 0, 4, 1] = np.nan
    with pytest.raises(ValueError, match=r"sequence\(s\) \[1\] hold non-finite values"):
        p.probabilities(x)


def test_predict_job_reports_the_file_and_prints_no_label_for_it(checkpoint, files):
    r = subprocess.run([sys.executable, str(REPO / "jobs/predict.py"), "--json", "--model", checkpoint, *files],
                       capture_output=True, text=True, timeout=120, cwd=REPO)
    assert r.returncode == 1, r.stderr
    assert files[1] not in r.stdout and files[2] not in r.stdout and "NaN" not in r.stdout
    assert len(r.stdout.splitlines()) == 2
    for f in files[1:3]:
        assert any(line.startswith(f"FAILED {f}: ") for line in r.stderr.splitlines()), r.stderr
    assert "2 predicted, 2 failed" in r.stderr


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

    from skelmae.serve.served_classifier import check_batch

    x = np.zeros((3, 16, 2, 25, 3), np.float32)
    check_batch(x)
    x[2, 0, 0, 0, 0] = np.inf
    with pytest.raises(MlflowException, match=r"non-finite values \(NaN or inf\) in sequence\(s\) \[2\]") as e:
        check_batch(x)
    assert e.value.get_http_status_code() == 400
    with pytest.raises(MlflowException, match=f"exceeds the maximum batch of {MAX_BATCH}") as e:
        check_batch(np.zeros((MAX_BATCH + 1, 1), np.float32))
    assert e.value.get_http_status_code() == 400

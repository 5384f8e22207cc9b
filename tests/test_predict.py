"""jobs/predict.py end to end: a tiny trained classifier labels fresh synthetic `.skeleton` files."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from data_pipeline.skeleton_format import parse_sample_name
from data_pipeline.synthetic import SYNTHETIC_ACTIONS, generate_dataset
from skelmae.serve.predict import ModelLoadError, Predictor
from skelmae.track.conventions import tracking_uri_set_to

# End to end: trains a classifier (session fixture) and runs the predict job.
pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
# The training set is seed 0: these are new subjects, bodies and camera rigs.
FRESH_SEED = 7
NUM_FRESH = 3 * len(SYNTHETIC_ACTIONS)
CHANCE = 1 / len(SYNTHETIC_ACTIONS)


@pytest.fixture(scope="module")
def fresh_files(tmp_path_factory) -> list[str]:
    return generate_dataset(str(tmp_path_factory.mktemp("fresh")), NUM_FRESH, seed=FRESH_SEED)


def run_predict(model: str, files: list[str], tracking_uri: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "MLFLOW_TRACKING_URI": tracking_uri}
    return subprocess.run([sys.executable, str(REPO / "jobs/predict.py"), "--model", model, *files],
                          capture_output=True, text=True, timeout=300, env=env, cwd=REPO)


def parse_output(stdout: str) -> dict[str, list[tuple[int, float]]]:
    """jobs/predict.py stdout -> {file: [(label, probability), ...] best first}."""
    out: dict[str, list[tuple[int, float]]] = {}
    current = None
    for line in stdout.splitlines():
        m = re.match(r"\s+\d+\. A(\d{3}) .* (\d\.\d{3})$", line)
        if m:
            out[current].append((int(m.group(1)) - 1, float(m.group(2))))
        elif line.strip():
            current = line.strip()
            out[current] = []
    return out


def true_label(path: str) -> int:
    return parse_sample_name(path).label


def accuracy(preds: dict[str, list[tuple[int, float]]]) -> float:
    return float(np.mean([top[0][0] == true_label(f) for f, top in preds.items()]))


def test_registered_model_beats_chance_and_matches_checkpoint(trained_classifier, fresh_files):
    uri = f"models:/{trained_classifier['name']}@champion"
    p = run_predict(uri, fresh_files, trained_classifier["tracking_uri"])
    assert p.returncode == 0, p.stderr
    preds = parse_output(p.stdout)
    assert sorted(preds) == sorted(fresh_files)
    for top in preds.values():
        assert len(top) == 5
        probs = [q for _, q in top]
        assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1.001
    acc = accuracy(preds)
    print(f"fresh-file accuracy {acc:.3f} (chance {CHANCE:.3f}, val_acc {trained_classifier['val_acc']})")
    assert acc >= 3 * CHANCE, f"accuracy {acc:.3f} on {len(preds)} fresh files is not above chance"

    # The fine-tuning checkpoint is the same classifier: same labels for the same files.
    c = run_predict(trained_classifier["checkpoint"], fresh_files, trained_classifier["tracking_uri"])
    assert c.returncode == 0, c.stderr
    assert {f: t[0][0] for f, t in parse_output(c.stdout).items()} == {f: t[0][0] for f, t in preds.items()}


def test_bad_files_are_reported_and_the_rest_predicted(trained_classifier, fresh_files, tmp_path):
    good = fresh_files[:3]
    garbage = tmp_path / "S001C001P001R001A008.skeleton"
    garbage.write_text("this is not a skeleton file\n")
    truncated = tmp_path / "S001C001P001R001A009.skeleton"
    raw = Path(fresh_files[3]).read_bytes()
    truncated.write_bytes(raw[: len(raw) // 2])
    missing = tmp_path / "S001C001P001R001A010.skeleton"
    files = [good[0], str(garbage), good[1], str(truncated), str(missing), good[2]]

    p = run_predict(f"runs:/{trained_classifier['run_id']}/model", files, trained_classifier["tracking_uri"])
    assert p.returncode == 1
    assert sorted(parse_output(p.stdout)) == sorted(good)
    failed = {line.split()[1].rstrip(":"): line for line in p.stderr.splitlines() if line.startswith("FAILED ")}
    assert set(failed) == {str(garbage), str(truncated), str(missing)}
    for line in failed.values():
        reason = line.split(": ", 1)[1]
        assert len(reason) > 10, line  # a reason, not just the name
    assert "No such file" in failed[str(missing)]
    assert "3 predicted, 3 failed" in p.stderr


@pytest.fixture
def tracking(trained_classifier):
    """In-process MLflow calls go to the classifier's store (other tests point mlflow elsewhere)."""
    with tracking_uri_set_to(trained_classifier["tracking_uri"]):
        yield trained_classifier["tracking_uri"]


def test_checkpoint_predictor_agrees_with_mlflow_model(trained_classifier, fresh_files, tracking):
    files = fresh_files[:4]
    ckpt = Predictor(trained_classifier["checkpoint"])
    logged = Predictor(trained_classifier["model_uri"])
    assert ckpt.num_frames == logged.num_frames == trained_classifier["num_frames"]
    assert ckpt.eval_crop == logged.eval_crop and ckpt.preprocess == logged.preprocess
    x = np.stack([ckpt.prepare(f) for f in files])  # [4, T, 2, 25, 3]
    assert x.shape == (4, trained_classifier["num_frames"], 2, 25, 3)
    np.testing.assert_allclose(ckpt.probabilities(x), logged.probabilities(x), atol=1e-5)
    # The Ray checkpoint directory works as well as the file inside it.
    assert np.array_equal(Predictor(os.path.dirname(trained_classifier["checkpoint"])).probabilities(x),
                          ckpt.probabilities(x))


def test_new_recording_names_are_accepted(trained_classifier, fresh_files, tmp_path):
    renamed = tmp_path / "kitchen-take-3.skeleton"
    renamed.write_bytes(Path(fresh_files[0]).read_bytes())
    preds, failed = Predictor(trained_classifier["checkpoint"]).predict_files([str(renamed), fresh_files[0]])
    assert failed == []
    assert preds[0].top == preds[1].top


def test_non_classifier_models_give_a_clear_error(trained_classifier, tmp_path):
    with pytest.raises(ModelLoadError, match="pretraining checkpoint, not a fine-tuned classifier"):
        Predictor(trained_classifier["pretrain_checkpoint"])
    junk = tmp_path / "junk.pt"
    junk.write_text("not torch")
    with pytest.raises(ModelLoadError, match="junk.pt: cannot read as a checkpoint"):
        Predictor(str(junk))
    weights = tmp_path / "weights.pt"
    torch.save({"model": {}}, weights)
    with pytest.raises(ModelLoadError, match="weights.pt: not a checkpoint"):
        Predictor(str(weights))

    p = run_predict(trained_classifier["pretrain_checkpoint"], [str(junk)], trained_classifier["tracking_uri"])
    assert p.returncode == 2
    assert "pretraining checkpoint" in p.stderr and "Traceback" not in p.stderr
    p = run_predict("models:/no-such-model@champion", [str(junk)], trained_classifier["tracking_uri"])
    assert p.returncode == 2
    assert "models:/no-such-model@champion" in p.stderr and "Traceback" not in p.stderr

"""A `.pt` from a stranger runs no code: every path that reads one refuses a pickle payload by name.

The payload, when unpickled, would run `touch MARKER` (os.system via __reduce__); torch.save stores it
as an ordinary pickle inside the checkpoint zip. Each test asserts the marker never appears and the
error names the file. The project's own checkpoints hold only tensors and plain containers.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from skelmae.checkpoint import CheckpointError as CheckpointFileError
from skelmae.checkpoint import read as read_checkpoint

REPO = Path(__file__).resolve().parents[1]


class _RunsCode:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture
def payload(tmp_path) -> tuple[Path, Path]:
    """(payload checkpoint, marker it would create): shaped like a fine-tuning checkpoint."""
    from skelmae.model.config import ModelConfig

    marker = tmp_path / "MARKER"
    path = tmp_path / "downloaded.pt"
    torch.save({"model": {}, "model_config": ModelConfig(preset="tiny").model_dump(mode="json"), "num_classes": 60,
                "config": {"data": {}}, "extra": _RunsCode(marker)}, path)
    # The payload is live: an unrestricted load runs it (the one deliberate unsafe load, to prove the test bites).
    torch.load(path, weights_only=False)
    assert marker.exists()
    marker.unlink()
    return path, marker


def test_read_checkpoint_refuses_a_payload_and_names_the_file(payload):
    path, marker = payload
    with pytest.raises(CheckpointFileError, match=rf"^{path}: cannot read as a checkpoint: .*could run code"):
        read_checkpoint(path)
    assert not marker.exists()


def test_pretrained_paths_refuse_a_payload(payload, tmp_path):
    """`--pretrained FILE` of linear eval / fine-tune: resolve, read the model config, load the encoder."""
    from skelmae.checkpoint import model_config_of
    from skelmae.model.config import ModelConfig
    from skelmae.model.mae import SkeletonClassifier, load_encoder_weights
    from skelmae.track.conventions import resolve_pretrained

    path, marker = payload
    local, run = resolve_pretrained(str(path), f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert (local, run) == (str(path.resolve()), None)
    with pytest.raises(ValueError, match=rf"{path}: cannot read as a checkpoint"):
        model_config_of(local)
    with pytest.raises(ValueError, match=rf"{path}: cannot read as a checkpoint"):
        load_encoder_weights(SkeletonClassifier(ModelConfig(preset="tiny"), 60), local)
    assert not marker.exists()


def test_predictor_refuses_a_payload_file_and_checkpoint_dir(payload, tmp_path):
    from skelmae.serve.predict import ModelLoadError, Predictor

    path, marker = payload
    with pytest.raises(ModelLoadError, match=rf"{path}: cannot read as a checkpoint"):
        Predictor(str(path))
    ckpt_dir = tmp_path / "checkpoint_000001"
    ckpt_dir.mkdir()
    os.link(path, ckpt_dir / "checkpoint.pt")
    with pytest.raises(ModelLoadError, match=rf"{ckpt_dir / 'checkpoint.pt'}: cannot read as a checkpoint"):
        Predictor(str(ckpt_dir))
    assert not marker.exists()


def test_predict_job_refuses_a_payload(payload, tmp_path):
    from data_pipeline.synthetic import generate_dataset

    path, marker = payload
    files = generate_dataset(str(tmp_path / "raw"), 1, seed=3)
    p = subprocess.run([sys.executable, str(REPO / "jobs/predict.py"), "--model", str(path), *files],
                       capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert p.returncode == 2, p.stderr
    assert f"{path}: cannot read as a checkpoint" in p.stderr and "Traceback" not in p.stderr
    assert p.stdout == ""
    assert not marker.exists()


def test_classifier_files_refuse_a_payload_weights_file(payload, tmp_path):
    """The weights artifact of a logged MLflow model is read the same way."""
    import json

    from skelmae.model.config import ModelConfig
    from skelmae.serve.registry import classifier_from_files

    path, marker = payload
    config = tmp_path / "config.json"
    model_config = ModelConfig(preset="tiny").model_dump(mode="json")
    config.write_text(json.dumps({"model_config": model_config, "num_classes": 60}))
    with pytest.raises(ValueError, match=rf"{path}: cannot read as a checkpoint"):
        classifier_from_files(str(path), str(config))
    assert not marker.exists()


@pytest.mark.parametrize("kind", ["pretrain", "finetune"])
def test_own_training_checkpoints_load_with_weights_only(kind, tmp_path):
    """What the training loops save (state dicts, optimizer state, config dicts, numbers) needs no pickle."""
    from skelmae import checkpoint
    from skelmae.config.jobs import FinetuneConfig, PretrainConfig
    from skelmae.model.config import ModelConfig
    from skelmae.model.mae import SkeletonClassifier, SkeletonMAE

    cfg = PretrainConfig() if kind == "pretrain" else FinetuneConfig()
    cfg_dict = cfg.model_dump(mode="json")
    model = SkeletonMAE(ModelConfig(preset="tiny")) if kind == "pretrain" else \
        SkeletonClassifier(ModelConfig(preset="tiny"), 60)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    loss = sum(p.sum() for p in model.parameters())
    loss.backward()
    optimizer.step()  # optimizer state with its step counters
    extra = {"last_score": 0.5} if kind == "pretrain" else {"num_classes": 60}
    path = tmp_path / checkpoint.CHECKPOINT_FILE
    checkpoint.save(checkpoint.training_state(model, optimizer, 0, 10, cfg, "abc", **extra), path)
    state = read_checkpoint(path)
    assert state["config"] == cfg_dict and state["optimizer"]["state"]
    assert checkpoint.load(path)["epoch"] == 0

"""The training checkpoint: what it holds, how it is written and read, the model config it carries.

One file, `checkpoint.pt`, a dict of tensors and plain values only (str, int, float, bool, None,
lists and dicts of them), so it loads with `torch.load(weights_only=True)` and never runs code:
    model           state dict of the SkeletonMAE (pretraining) or SkeletonClassifier (fine-tuning)
    optimizer       AdamW state dict
    scheduler       {"epoch": next epoch, "steps_per_epoch": int}
    epoch           the epoch this checkpoint ends
    config          the job config as a plain dict
    model_config    the ModelConfig as a plain dict (rebuilds the model: `model_config(state)`)
    mlflow_run_id   the run that wrote it
    num_classes     fine-tuning only: classifier head size
    last_score      pretraining only: the latest kNN score (the sweep's objective)
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

import mlflow
import ray.train
import torch
from mlflow.tracking import MlflowClient

from skelmae.model.config import ModelConfig

CHECKPOINT_FILE = "checkpoint.pt"
ARTIFACT_DIR = "checkpoint"  # where a run logs its final checkpoint


class CheckpointError(ValueError):
    """A file that is not a checkpoint of ours (or lacks what the caller needs)."""


def training_state(model: torch.nn.Module, optimizer: torch.optim.Optimizer, epoch: int, steps_per_epoch: int,
                   cfg, run_id: str, **extra) -> dict:
    """What `--resume`, a restarted worker and the downstream jobs read back from a training loop."""
    return {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": {"epoch": epoch + 1, "steps_per_epoch": steps_per_epoch},
        "epoch": epoch,
        "config": cfg.model_dump(mode="json"),
        "model_config": cfg.model.model_dump(mode="json"),
        "mlflow_run_id": run_id,
        **extra,
    }


def save(state: dict, path: str | os.PathLike) -> None:
    torch.save(state, path)


def load(path: str | os.PathLike) -> dict:
    """A checkpoint file's dict, on the CPU, without unpickling code (`weights_only=True`)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no checkpoint file {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - torch raises several types for files it cannot read
        raise CheckpointError(f"{path}: not a readable checkpoint ({type(e).__name__}: {e})") from None
    if not isinstance(state, Mapping):
        raise CheckpointError(f"{path}: not a checkpoint (holds a {type(state).__name__})")
    return dict(state)


def model_config(state: Mapping, source: str = "checkpoint") -> ModelConfig:
    """The ModelConfig a checkpoint was trained with."""
    if "model_config" not in state:
        raise CheckpointError(f"{source}: holds no model_config - not a SkeletonMAE training checkpoint")
    return ModelConfig(**state["model_config"])


def model_config_of(path: str) -> ModelConfig:
    return model_config(load(path), path)


def to_ray(state: dict) -> ray.train.Checkpoint:
    """The state as a Ray Train checkpoint directory (reported with `ray.train.report`)."""
    tmp = tempfile.mkdtemp(prefix="skelmae-ckpt-")
    save(state, os.path.join(tmp, CHECKPOINT_FILE))
    return ray.train.Checkpoint.from_directory(tmp)


def from_ray(checkpoint: ray.train.Checkpoint) -> dict:
    with checkpoint.as_directory() as d:
        return load(os.path.join(d, CHECKPOINT_FILE))


def ray_checkpoint_file(checkpoint: ray.train.Checkpoint) -> str:
    """Where a Ray Train checkpoint's file lives (a local path or an object-store URI)."""
    fs = checkpoint.filesystem
    if fs is None or fs.type_name == "local":
        return os.path.join(checkpoint.path, CHECKPOINT_FILE)
    return f"{fs.type_name}://{checkpoint.path}/{CHECKPOINT_FILE}"


def resolve_pretrained(source: str, tracking_uri: str) -> tuple[str, str | None]:
    """A `--pretrained` value -> (local checkpoint file, pretraining MLflow run ID or None).

    `source` is a checkpoint file, a checkpoint directory holding `checkpoint.pt`, or an MLflow run
    ID whose run logged `checkpoint/checkpoint.pt` (the launcher logs every final checkpoint there).
    """
    p = Path(source).expanduser()
    if p.is_file():
        return str(p.resolve()), None
    if p.is_dir():
        f = p / CHECKPOINT_FILE
        if not f.is_file():
            raise FileNotFoundError(f"pretrained: {source} holds no {CHECKPOINT_FILE}")
        return str(f.resolve()), None
    client = MlflowClient(tracking_uri)
    try:
        client.get_run(source)
    except mlflow.exceptions.MlflowException:
        raise FileNotFoundError(
            f"pretrained: {source!r} is neither a checkpoint path nor a run ID in {tracking_uri}"
        ) from None
    local = mlflow.artifacts.download_artifacts(
        run_id=source, artifact_path=f"{ARTIFACT_DIR}/{CHECKPOINT_FILE}", tracking_uri=tracking_uri
    )
    return local, source

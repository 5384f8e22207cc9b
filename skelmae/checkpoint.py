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
import pickle
from collections.abc import Mapping

import torch

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


def read(path: str | os.PathLike) -> object:
    """The contents of the torch file `path` on the CPU, without unpickling arbitrary objects.

    `weights_only=True` refuses any pickled object other than tensors, numbers, strings and containers
    of them, so a downloaded `.pt` cannot run code when it is read (same speed as a plain load).
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no checkpoint file {path}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        # torch's message names the refused global (e.g. posix.system) and pages of advice: keep the first line.
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(
            f"{path}: cannot read as a checkpoint: it holds objects other than tensors and plain containers, "
            f"refused because unpickling them could run code ({reason})") from None
    except Exception as e:  # noqa: BLE001 - not a torch file, truncated ...: say which file
        raise CheckpointError(f"{path}: cannot read as a checkpoint ({type(e).__name__}: {e})") from None


def load(path: str | os.PathLike) -> dict:
    """A checkpoint file's dict, on the CPU, without unpickling code (`weights_only=True`)."""
    state = read(path)
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

"""The fine-tuned classifier as an MLflow model: probabilities out, loadable with mlflow.pyfunc.

The model is logged as code (`skelmae/serve/served_classifier.py`) plus its weights and config, not as a
pickled module: loading it unpickles nothing but tensors. It takes preprocessed, fixed-length
sequences `x: [N, T, 2, 25, 3]` float32 (what `jobs/predict.py` makes from `.skeleton` files) and
returns class probabilities `[N, num_classes]`; the predicted label is the argmax.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

import mlflow
import numpy as np
import torch
from mlflow.models import infer_signature

from data_pipeline.ntu import SAMPLE_LAYOUT
from skelmae.checkpoint import read as read_checkpoint
from skelmae.config.jobs import FinetuneConfig
from skelmae.model.config import ModelConfig
from skelmae.model.mae import SkeletonClassifier, has_fc_norm
from skelmae.track.conventions import tracking_uri_set_to


class ActionClassifier(torch.nn.Module):
    """Classifier + softmax, so served predictions are probabilities (label = argmax)."""

    def __init__(self, classifier: SkeletonClassifier):
        super().__init__()
        self.classifier = classifier

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: [N, T, M, V, C] -> [N, K]
        return torch.softmax(self.classifier(x).float(), dim=-1)


def classifier_from_state(state: dict, source: str) -> ActionClassifier:
    """The classifier of a loaded fine-tuning checkpoint; ValueError naming `source` for anything else."""
    if not isinstance(state, dict) or "num_classes" not in state or "model_config" not in state:
        kind = "a pretraining checkpoint" if isinstance(state, dict) and "model_config" in state else "not a checkpoint"
        raise ValueError(f"{source}: {kind}, not a fine-tuned classifier (no num_classes); "
                         "pass a checkpoint or model of jobs/finetune.py")
    clf = SkeletonClassifier(ModelConfig(**state["model_config"]), state["num_classes"],
                             fc_norm=has_fc_norm(state["model"]))
    try:
        clf.load_state_dict(state["model"])
    except (RuntimeError, TypeError, AttributeError) as e:
        # torch lists the keys over several tab-indented lines: one line is enough for the console
        raise ValueError(f"{source}: weights do not fit the classifier of its model_config "
                         f"({' '.join(str(e).split())})") from None
    return ActionClassifier(clf).eval()


def classifier_from_checkpoint(path: str) -> ActionClassifier:
    return classifier_from_state(read_checkpoint(path), path)


def classifier_from_files(weights_file: str, config_file: str) -> ActionClassifier:
    """The classifier logged by `log_classifier`: a state dict file and its JSON config."""
    state = read_checkpoint(weights_file)
    try:
        config = json.loads(Path(config_file).read_text())
        clf = SkeletonClassifier(ModelConfig(**config["model_config"]), int(config["num_classes"]),
                                 fc_norm=isinstance(state, Mapping) and has_fc_norm(state))
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ValueError(f"{config_file}: not a classifier config ({type(e).__name__}: {e})") from None
    try:
        clf.load_state_dict(state)
    except (RuntimeError, TypeError, AttributeError) as e:
        raise ValueError(f"{weights_file}: weights do not fit the classifier of {config_file} ({e})") from None
    return ActionClassifier(clf).eval()


def _dataset_preprocess(data_path: str) -> dict:
    from data_pipeline.parquet_io import read_manifest

    cfg = dict(read_manifest(data_path).get("config") or {})
    cfg.pop("dataset", None)
    return cfg


def log_classifier(tracking_uri: str, run_id: str, checkpoint_file: str, data_path: str,
                   cfg: FinetuneConfig) -> str:
    """Log the classifier of `checkpoint_file` as the run's `model` (registered if configured)."""
    from skelmae.data.batches import load_split_arrays

    model = classifier_from_checkpoint(checkpoint_file)
    x, _, _ = load_split_arrays(data_path, cfg.data.benchmark, "test", cfg.model.num_frames,
                                cfg.data.eval_crop, limit=2)
    if len(x) == 0:
        x = np.zeros((1, cfg.model.num_frames, *SAMPLE_LAYOUT), dtype=np.float32)
    with torch.no_grad():
        probs = model(torch.from_numpy(x)).numpy()
    with (tracking_uri_set_to(tracking_uri), tempfile.TemporaryDirectory(prefix="skelmae-model-") as tmp,
          mlflow.start_run(run_id=run_id)):
        weights, config = os.path.join(tmp, "weights.pt"), os.path.join(tmp, "config.json")
        torch.save(model.classifier.state_dict(), weights)
        Path(config).write_text(json.dumps({"model_config": model.classifier.cfg.model_dump(mode="json"),
                                            "num_classes": model.classifier.num_classes}))
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=str(Path(__file__).with_name("served_classifier.py")),
            artifacts={"weights": weights, "config": config},
            signature=infer_signature(x, probs),
            input_example=x,
            # Explicit requirements: inference would re-run the model in a subprocess.
            pip_requirements=[f"torch=={torch.__version__.split('+')[0]}", f"mlflow=={mlflow.__version__}",
                              f"numpy=={np.__version__}"],
            registered_model_name=cfg.register_as or None,
            # What skelmae.serve.predict needs to turn a `.skeleton` file into this model's input exactly
            # as the training data path did.
            metadata={"num_frames": model.classifier.cfg.num_frames, "eval_crop": cfg.data.eval_crop,
                      "num_classes": int(probs.shape[1]), "preprocess": _dataset_preprocess(data_path)},
        )
    return info.model_uri


def promote(run_id: str, name: str, alias: str = "champion", tracking_uri: str = "") -> str:
    """Point `models:/name@alias` at the classifier logged by fine-tuning run `run_id`; returns the version.

    The run's model is registered under `name` first unless a version of it already exists (as after
    `jobs/finetune.py --register_as name`). The alias moves: the previous holder loses it.
    """
    from mlflow.tracking import MlflowClient

    from skelmae.track.conventions import resolve_tracking_uri

    client = MlflowClient(resolve_tracking_uri(tracking_uri))
    run = client.get_run(run_id)  # an unknown run fails here, naming it
    versions = client.search_model_versions(f"name = '{name}' and run_id = '{run_id}'")
    if versions:
        version = max(int(v.version) for v in versions)
    else:
        # MLflow 3 keeps a run's logged model as a LoggedModel (models:/m-...), not under the run's artifacts.
        models = [client.get_logged_model(o.model_id) for o in run.outputs.model_outputs]
        model = next((m for m in models if m.name == "model"), None)
        if model is None:
            raise ValueError(f"run {run_id} logged no classifier `model` (is it a jobs/finetune.py run?)")
        try:
            client.create_registered_model(name)
        except mlflow.exceptions.MlflowException as e:
            if e.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
        version = int(client.create_model_version(name, model.model_uri, run_id=run_id,
                                                  model_id=model.model_id).version)
    client.set_registered_model_alias(name, alias, str(version))
    return str(version)

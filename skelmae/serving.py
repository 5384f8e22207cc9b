"""The fine-tuned classifier as an MLflow model: probabilities out, loadable with mlflow.pyfunc.

The logged module takes preprocessed, fixed-length sequences `x: [N, T, 2, 25, 3]` float32 (what
`jobs/predict.py` makes from `.skeleton` files) and returns class probabilities `[N, num_classes]`;
the predicted label is the argmax.
"""

from __future__ import annotations

import mlflow
import numpy as np
import torch
from mlflow.models import infer_signature

from skelmae.job_config import FinetuneConfig
from skelmae.model import SkeletonClassifier
from skelmae.model_config import ModelConfig


class ActionClassifier(torch.nn.Module):
    """Classifier + softmax, so served predictions are probabilities (label = argmax)."""

    def __init__(self, classifier: SkeletonClassifier):
        super().__init__()
        self.classifier = classifier

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: [N, T, M, V, C] -> [N, K]
        return torch.softmax(self.classifier(x).float(), dim=-1)


def classifier_from_checkpoint(path: str) -> ActionClassifier:
    state = torch.load(path, map_location="cpu", weights_only=False)
    if "num_classes" not in state:
        raise ValueError(f"{path} is not a fine-tuning checkpoint (no num_classes); pass a fine-tuned model")
    clf = SkeletonClassifier(ModelConfig(**state["model_config"]), state["num_classes"])
    clf.load_state_dict(state["model"])
    return ActionClassifier(clf).eval()


def log_classifier(tracking_uri: str, run_id: str, checkpoint_file: str, data_path: str,
                   cfg: FinetuneConfig) -> str:
    """Log the classifier of `checkpoint_file` as the run's `model` (registered if configured)."""
    from skelmae.datasets import load_split_arrays

    model = classifier_from_checkpoint(checkpoint_file)
    x, _, _ = load_split_arrays(data_path, cfg.data.benchmark, "test", cfg.model.num_frames,
                                cfg.data.eval_crop, limit=2)
    if len(x) == 0:
        x = np.zeros((1, cfg.model.num_frames, 2, 25, 3), dtype=np.float32)
    with torch.no_grad():
        probs = model(torch.from_numpy(x)).numpy()
    mlflow.set_tracking_uri(tracking_uri)
    with mlflow.start_run(run_id=run_id):
        info = mlflow.pytorch.log_model(
            model,
            name="model",
            signature=infer_signature(x, probs),
            input_example=x,
            # Explicit requirements: inference would re-run the model in a subprocess.
            pip_requirements=[f"torch=={torch.__version__.split('+')[0]}", f"mlflow=={mlflow.__version__}",
                              f"numpy=={np.__version__}"],
            registered_model_name=cfg.register_as or None,
        )
    return info.model_uri

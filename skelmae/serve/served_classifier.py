"""The code MLflow runs to load and serve the fine-tuned classifier (MLflow "models from code").

`skelmae.serve.registry.log_classifier` logs this file as the model's code and two plain artifacts: the
classifier's weights (a state dict, read back with `weights_only=True`) and its config (JSON). No
pickled Python object is stored, so loading a logged model cannot unpickle code. The class needs the
installed `skelmae` package, as the pickled module it replaces did.

Input `[N, T, 2, 25, 3]` float32 (what `jobs/predict.py` makes from `.skeleton` files), output class
probabilities `[N, num_classes]`. Requests with NaN/inf values or more than `MAX_BATCH` sequences are
refused with a 400 naming the problem, never answered with NaN probabilities.
"""

from __future__ import annotations

import mlflow
import numpy as np
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

from skelmae.serve.predict import MAX_BATCH


def check_batch(x: np.ndarray, max_batch: int = MAX_BATCH) -> None:
    """Raise MlflowException (HTTP 400 in the scoring server) for an oversized or non-finite batch."""
    if len(x) > max_batch:
        raise MlflowException(f"batch of {len(x)} sequences exceeds the maximum batch of {max_batch}; "
                              "split the request", error_code=INVALID_PARAMETER_VALUE)
    finite = np.isfinite(x).reshape(len(x), -1).all(axis=1)
    if not finite.all():
        bad = np.flatnonzero(~finite).tolist()
        raise MlflowException(f"input holds non-finite values (NaN or inf) in sequence(s) {bad[:10]}"
                              f"{' ...' if len(bad) > 10 else ''}: refused", error_code=INVALID_PARAMETER_VALUE)


class ClassifierModel(mlflow.pyfunc.PythonModel):
    """pyfunc wrapper: weights + config artifacts -> ActionClassifier on the CPU."""

    def load_context(self, context) -> None:
        import torch

        from skelmae.serve.registry import classifier_from_files

        self.torch = torch
        self.model = classifier_from_files(context.artifacts["weights"], context.artifacts["config"])

    def predict(self, context, model_input, params=None):
        x = np.asarray(model_input, dtype=np.float32)
        check_batch(x)
        with self.torch.no_grad():
            return self.model(self.torch.from_numpy(x)).numpy()


mlflow.models.set_model(ClassifierModel())

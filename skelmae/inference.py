"""Label new `.skeleton` recordings with a trained classifier.

A file goes through exactly the training data path: `data_pipeline.process.process_file` (parse,
denoise, normalise - what jobs/preprocess.py runs) and the evaluation crop/resize to T of
`skelmae.datasets.SequenceBatcher` (what every evaluation batch gets). One code path, not a copy.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from data_pipeline.action_names import action_name
from data_pipeline.process import PreprocessConfig, process_file
from skelmae.datasets import SequenceBatcher


@dataclass
class Prediction:
    file: str
    top: list[tuple[int, str, float]]  # (label, action name, probability), best first

    @property
    def label(self) -> int:
        return self.top[0][0]


def prepare_file(path: str, num_frames: int, eval_crop: float = 0.95,
                 cfg: PreprocessConfig | None = None) -> np.ndarray:
    """A `.skeleton` file -> model input [T, 2, 25, 3] float32 (raises with the reason if unusable)."""
    sample = process_file(path, cfg or PreprocessConfig())
    batch = {"joints": [sample.data.reshape(-1)], "num_frames": np.array([len(sample.data)]),
             "label": np.array([0])}
    return SequenceBatcher(num_frames, train=False, eval_crop=eval_crop).arrays(batch)["x"][0]


class Predictor:
    """A classifier from an MLflow model URI (runs:/..., models:/NAME@ALIAS) or a checkpoint file."""

    def __init__(self, model_uri: str):
        if os.path.exists(model_uri):
            import torch

            from skelmae.serving import classifier_from_checkpoint

            model = classifier_from_checkpoint(model_uri)
            self.num_frames = model.classifier.cfg.num_frames

            def predict(x: np.ndarray) -> np.ndarray:
                with torch.no_grad():
                    return model(torch.from_numpy(x)).numpy()

            self._predict = predict
        else:
            import mlflow

            model = mlflow.pyfunc.load_model(model_uri)
            shape = model.metadata.get_input_schema().inputs[0].shape  # (-1, T, 2, 25, 3)
            self.num_frames = int(shape[1])
            self._predict = lambda x: np.asarray(model.predict(x))

    def probabilities(self, x: np.ndarray) -> np.ndarray:  # x: [N, T, 2, 25, 3] -> [N, K]
        return self._predict(x.astype(np.float32))

    def predict_files(self, paths: list[str], k: int = 5) -> tuple[list[Prediction], list[tuple[str, str]]]:
        """Predictions for the usable files and (file, reason) for the others."""
        xs, good, failed = [], [], []
        for p in paths:
            try:
                xs.append(prepare_file(p, self.num_frames))
                good.append(p)
            except Exception as e:  # noqa: BLE001 - any unusable file is reported, the rest go on
                failed.append((p, f"{type(e).__name__}: {e}"))
        preds = []
        if xs:
            probs = self.probabilities(np.stack(xs))
            for p, row in zip(good, probs, strict=True):
                order = np.argsort(-row)[:k]
                preds.append(Prediction(p, [(int(i), action_name(int(i)), float(row[i])) for i in order]))
        return preds, failed

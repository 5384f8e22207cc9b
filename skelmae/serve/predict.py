"""Label new `.skeleton` recordings with a trained classifier.

A file goes through exactly the training data path: `data_pipeline.process.process_file` (parse,
denoise, normalise - what jobs/preprocess.py runs) and the evaluation crop/resize to T of
`skelmae.data.batches.SequenceBatcher` (what every evaluation batch gets). One code path, not a copy.
The settings of that path (T, eval crop, preprocessing config) come with the model: the MLflow
model's metadata, or the fine-tuning checkpoint's config and its dataset's manifest.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields

import numpy as np

from data_pipeline.action_names import action_name
from data_pipeline.process import PreprocessConfig, process_file
from data_pipeline.redact import redact
from skelmae.data.batches import SequenceBatcher

# Sequences per model call, and the most the served model accepts in one request (~25 MB of JSON at T=64).
MAX_BATCH = 256


class ModelLoadError(ValueError):
    """A model URI or checkpoint that cannot be used as a classifier; the message says why."""


@dataclass
class Prediction:
    file: str
    top: list[tuple[int, str, float]]  # (label, action name, probability), best first

    @property
    def label(self) -> int:
        return self.top[0][0]


def preprocess_config(d: dict | None) -> PreprocessConfig:
    """PreprocessConfig from a manifest's or model's `config` dict (unknown keys such as `dataset` dropped)."""
    names = {f.name for f in fields(PreprocessConfig)}
    return PreprocessConfig(**{k: v for k, v in (d or {}).items() if k in names})


def prepare_file(path: str, num_frames: int, eval_crop: float = 0.95,
                 cfg: PreprocessConfig | None = None) -> np.ndarray:
    """A `.skeleton` file -> model input [T, 2, 25, 3] float32 (raises with the reason if unusable).

    Any file name is accepted: new recordings need not be named SsssCcccPpppRrrrAaaa.
    """
    sample = process_file(path, cfg or PreprocessConfig(), require_name=False)
    batch = {"joints": [sample.data.reshape(-1)], "num_frames": np.array([len(sample.data)]),
             "label": np.array([0])}
    return SequenceBatcher(num_frames, train=False, eval_crop=eval_crop).arrays(batch)["x"][0]


def _checkpoint_file(path: str) -> str | None:
    """The fine-tuning checkpoint file named by `path` (a file, or a Ray checkpoint directory), or None."""
    if os.path.isfile(path):
        return path
    if os.path.isdir(path) and os.path.isfile(os.path.join(path, "checkpoint.pt")):
        return os.path.join(path, "checkpoint.pt")
    return None


def _dataset_preprocess(data_path: str) -> PreprocessConfig:
    """The preprocessing of the dataset a checkpoint was trained on; the default when it is not at hand."""
    from data_pipeline.parquet_io import read_manifest

    if not data_path:  # the embedded synthetic dataset: default preprocessing
        return PreprocessConfig()
    try:
        return preprocess_config(read_manifest(data_path).get("config"))
    except (OSError, ValueError):
        return PreprocessConfig()


class Predictor:
    """A classifier from an MLflow model URI (runs:/..., models:/NAME@ALIAS, a model directory) or a
    fine-tuning checkpoint (file or Ray checkpoint directory)."""

    def __init__(self, model_uri: str):
        self.model_uri = model_uri
        ckpt = _checkpoint_file(model_uri)
        if ckpt is not None:
            self._load_checkpoint(ckpt)
        else:
            self._load_mlflow(model_uri)

    def _load_checkpoint(self, path: str) -> None:
        import torch

        from skelmae.checkpoint import read as read_checkpoint
        from skelmae.serve.registry import classifier_from_state

        try:
            state = read_checkpoint(path)  # tensors and plain containers only: a downloaded file runs no code
            model = classifier_from_state(state, path)
        except ValueError as e:
            raise ModelLoadError(str(e)) from None
        data = (state.get("config") or {}).get("data", {})
        self.num_frames = model.classifier.cfg.num_frames
        self.eval_crop = float(data.get("eval_crop", 0.95))
        self.preprocess = _dataset_preprocess(data.get("path", ""))

        def predict(x: np.ndarray) -> np.ndarray:
            with torch.no_grad():
                return model(torch.from_numpy(x)).numpy()

        self._predict = predict

    def _load_mlflow(self, uri: str) -> None:
        import mlflow

        try:
            model = mlflow.pyfunc.load_model(uri)
        except Exception as e:  # noqa: BLE001 - unknown run/alias, unreachable store, not a path ...
            # MLflow's message may quote a tracking URI with credentials in it.
            raise ModelLoadError(redact(
                f"{uri}: not a checkpoint file and not a loadable MLflow model ({type(e).__name__}: {e})"
            )) from None
        meta = model.metadata.metadata or {}
        schema = model.metadata.get_input_schema()
        if "num_frames" in meta:
            self.num_frames = int(meta["num_frames"])
        elif schema is not None and len(schema.inputs[0].shape) == 5:  # (-1, T, 2, 25, 3)
            self.num_frames = int(schema.inputs[0].shape[1])
        else:
            raise ModelLoadError(redact(f"{uri}: not a skelmae classifier (no input shape [N, T, 2, 25, 3])"))
        self.eval_crop = float(meta.get("eval_crop", 0.95))
        self.preprocess = preprocess_config(meta.get("preprocess"))
        self._predict = lambda x: np.asarray(model.predict(x))

    def prepare(self, path: str) -> np.ndarray:
        """A `.skeleton` file -> [T, 2, 25, 3] with this model's T, eval crop and preprocessing."""
        return prepare_file(path, self.num_frames, self.eval_crop, self.preprocess)

    def probabilities(self, x: np.ndarray, batch_size: int = MAX_BATCH) -> np.ndarray:  # [N, T, 2, 25, 3] -> [N, K]
        """Class probabilities; ValueError for non-finite input (NaN/inf in gives NaN out, never a label)."""
        x = x.astype(np.float32, copy=False)
        bad = np.flatnonzero(~np.isfinite(x).reshape(len(x), -1).all(axis=1))
        if len(bad):
            raise ValueError(f"input sequence(s) {bad[:10].tolist()} hold non-finite values (NaN or inf)")
        return np.concatenate([self._predict(x[i : i + batch_size]) for i in range(0, len(x), batch_size)])

    def predict_files(self, paths: list[str], k: int = 5) -> tuple[list[Prediction], list[tuple[str, str]]]:
        """Predictions for the usable files and (file, reason) for the others."""
        xs, good, failed = [], [], []
        for p in paths:
            try:
                x = self.prepare(p)
            except Exception as e:  # noqa: BLE001 - any unusable file is reported, the rest go on
                failed.append((p, f"{type(e).__name__}: {e}"))
                continue
            if not np.isfinite(x).all():  # e.g. "nan" coordinates in the file survive preprocessing
                failed.append((p, "non-finite values (NaN or inf) in the preprocessed sequence: not predicted"))
                continue
            xs.append(x)
            good.append(p)
        preds = []
        if xs:
            probs = self.probabilities(np.stack(xs))  # [N, K]
            for p, row in zip(good, probs, strict=True):
                if not np.isfinite(row).all():  # a model with broken weights: no label from NaN
                    failed.append((p, "the model returned non-finite probabilities: not predicted"))
                    continue
                order = np.argsort(-row)[:k]
                preds.append(Prediction(p, [(int(i), action_name(int(i)), float(row[i])) for i in order]))
        return preds, failed

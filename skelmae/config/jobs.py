"""Typed configurations of the training jobs (pretrain, fine-tune, linear eval).

Defaults are the embedded default: synthetic NTU-format data, the `tiny` model, CPU. Every section
validates itself, so `load_config(PretrainConfig, argv)` fails before Ray starts, naming the field.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from data_pipeline.parquet_io import BENCHMARKS
from skelmae.config.loader import ConfigError
from skelmae.model.config import ModelConfig


@dataclass
class DataConfig:
    # Parquet dataset written by jobs/preprocess.py; empty = the embedded synthetic dataset.
    path: str = ""
    benchmark: str = "ntu60-xsub"
    num_classes: int = 60
    # Fraction of training labels used (semi-supervised protocol: 0.01, 0.1), per class, fixed seed.
    label_fraction: float = 1.0
    label_seed: int = 0
    # Training-time augmentation: crop fraction range, rotation about the vertical, per-axis scale.
    crop_min: float = 0.5
    crop_max: float = 1.0
    eval_crop: float = 0.95
    rotate_degrees: float = 0.0
    scale: float = 0.0
    # Datasets smaller than this (Parquet MB) are read once into Ray's object store, not every epoch.
    in_memory_mb: float = 512.0
    # Embedded synthetic dataset (generated once into cache_dir).
    synthetic_samples: int = 720
    synthetic_seed: int = 0
    cache_dir: str = "~/.cache/skelmae"

    def validate(self) -> None:
        if self.benchmark not in BENCHMARKS:
            raise ConfigError("benchmark", f"must be one of {sorted(BENCHMARKS)}, got {self.benchmark!r}")
        if self.path and "://" not in self.path and not os.path.isdir(self.path):
            raise ConfigError("path", f"no such dataset directory {self.path!r} (run jobs/preprocess.py)")
        if self.num_classes < 2:
            raise ConfigError("num_classes", "must be >= 2")
        if not 0 < self.label_fraction <= 1:
            raise ConfigError("label_fraction", f"must be in (0, 1], got {self.label_fraction}")
        if not 0 < self.crop_min <= self.crop_max <= 1:
            raise ConfigError("crop_min", "need 0 < crop_min <= crop_max <= 1")
        if not 0 < self.eval_crop <= 1:
            raise ConfigError("eval_crop", "must be in (0, 1]")
        if self.rotate_degrees < 0 or not 0 <= self.scale < 1:
            raise ConfigError("scale" if self.rotate_degrees >= 0 else "rotate_degrees", "out of range")
        if self.synthetic_samples < 20:
            raise ConfigError("synthetic_samples", "must be >= 20")


@dataclass
class OptimConfig:
    epochs: int = 12
    batch_size: int = 32  # per worker
    lr: float = 1e-3
    min_lr: float = 1e-5
    weight_decay: float = 0.05
    warmup_epochs: float = 1.0
    grad_clip: float = 1.0  # 0 disables

    def validate(self) -> None:
        if self.epochs < 1:
            raise ConfigError("epochs", "must be >= 1")
        if self.batch_size < 1:
            raise ConfigError("batch_size", "must be >= 1")
        if self.lr <= 0:
            raise ConfigError("lr", "must be > 0")
        if not 0 <= self.min_lr <= self.lr:
            raise ConfigError("min_lr", "must be in [0, lr]")
        if self.warmup_epochs < 0 or self.warmup_epochs > self.epochs:
            raise ConfigError("warmup_epochs", "must be in [0, epochs]")
        if self.weight_decay < 0 or self.grad_clip < 0:
            raise ConfigError("weight_decay" if self.weight_decay < 0 else "grad_clip", "must be >= 0")


@dataclass
class ScalingConfig:
    num_workers: int = 1
    use_gpu: bool = False
    # Leave one whole CPU free on the node for Ray Data: its file-listing task needs a full CPU, so
    # 2 workers x 1 CPU on a 2-CPU node deadlock (use 2 x 0.5 there).
    cpus_per_worker: float = 1.0
    # Torch intra-op threads per worker; 0 = leave torch's default.
    torch_threads: int = 0
    # auto: bf16 autocast on GPU, fp32 on CPU; bf16 forces autocast (on CPU too), fp32 disables it.
    precision: str = "auto"

    def validate(self) -> None:
        if self.num_workers < 1:
            raise ConfigError("num_workers", "must be >= 1")
        if self.cpus_per_worker <= 0:
            raise ConfigError("cpus_per_worker", "must be > 0")
        if self.torch_threads < 0:
            raise ConfigError("torch_threads", "must be >= 0")
        if self.precision not in ("auto", "fp32", "bf16"):
            raise ConfigError("precision", f"must be auto, fp32 or bf16, got {self.precision!r}")


@dataclass
class TrackingConfig:
    experiment: str = "skelmae"
    run_name: str = ""  # empty: job kind + timestamp
    # Ray Train storage (local dir or object-store URI); relative paths resolve against the cwd.
    storage_path: str = "runs"
    # MLflow tracking URI; empty: $MLFLOW_TRACKING_URI, else sqlite file mlflow.db in the cwd.
    tracking_uri: str = ""

    def validate(self) -> None:
        if not self.experiment:
            raise ConfigError("experiment", "must not be empty")


@dataclass
class PretrainConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=lambda: OptimConfig(lr=1.5e-3))
    scaling: ScalingConfig = field(default_factory=ScalingConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    seed: int = 0
    checkpoint_every: int = 1  # epochs
    knn_every: int = 4  # epochs; 0 disables the monitor (the last epoch is always scored)
    knn_k: int = 20
    figure_every: int = 0  # epochs between reconstruction figures; 0 = at the end only
    resume: bool = False  # continue run `tracking.run_name` from its latest checkpoint
    max_failures: int = 0
    linear_eval: bool = True  # run the linear evaluation when pretraining ends
    # Test-only fault injection: rank 0 crashes once when this epoch starts (-1 = never).
    fail_at_epoch: int = -1

    def validate(self) -> None:
        if self.checkpoint_every < 1:
            raise ConfigError("checkpoint_every", "must be >= 1")
        if self.knn_every < 0 or self.knn_k < 1 or self.figure_every < 0:
            raise ConfigError("knn_every" if self.knn_every < 0 else "knn_k", "out of range")
        if self.max_failures < -1:
            raise ConfigError("max_failures", "must be >= -1 (-1 = unlimited)")
        if self.resume and not self.tracking.run_name:
            raise ConfigError("resume", "needs tracking.run_name of the run to continue")


@dataclass
class FinetuneConfig:
    # MLflow run ID of a pretraining run, or a checkpoint path; empty = train from scratch.
    pretrained: str = ""
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=lambda: OptimConfig(epochs=10, lr=5e-4))
    scaling: ScalingConfig = field(default_factory=ScalingConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    seed: int = 0
    dropout: float = 0.3
    label_smoothing: float = 0.1
    checkpoint_every: int = 1
    max_failures: int = 0
    register_as: str = ""  # MLflow registered-model name for the classifier; empty = not registered

    def validate(self) -> None:
        if not 0 <= self.dropout < 1:
            raise ConfigError("dropout", "must be in [0, 1)")
        if not 0 <= self.label_smoothing < 1:
            raise ConfigError("label_smoothing", "must be in [0, 1)")
        if self.checkpoint_every < 1:
            raise ConfigError("checkpoint_every", "must be >= 1")


@dataclass
class LinearEvalConfig:
    # MLflow run ID of a pretraining run, or a checkpoint path; empty = randomly initialised encoder.
    pretrained: str = ""
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    scaling: ScalingConfig = field(default_factory=ScalingConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    seed: int = 0
    # Linear classifier trained on frozen features (full batch, on the gathered features).
    epochs: int = 200
    lr: float = 0.01
    weight_decay: float = 1e-4
    batch_size: int = 64  # feature extraction batch per worker
    knn_k: int = 20

    def validate(self) -> None:
        if self.epochs < 1:
            raise ConfigError("epochs", "must be >= 1")
        if self.lr <= 0:
            raise ConfigError("lr", "must be > 0")
        if self.knn_k < 1:
            raise ConfigError("knn_k", "must be >= 1")

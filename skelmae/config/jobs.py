"""Typed configurations of the training jobs (pretrain, fine-tune, linear eval, sweep).

Defaults are the embedded default: synthetic NTU-format data, the `tiny` model, CPU. Types, ranges and
choices are declared once, on the fields; `load_config(PretrainConfig, argv)` fails before Ray starts,
naming the field, and `--help` lists the same fields with their descriptions.
"""

from __future__ import annotations

import os
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, field_validator, model_validator

from data_pipeline.exporters import benchmark_num_classes
from data_pipeline.parquet_io import BENCHMARKS, MANIFEST
from skelmae.config.sections import CommaList, Section
from skelmae.model.config import PRESETS, MaskStrategy, ModelConfig

Benchmark = Literal[tuple(BENCHMARKS)]  # type: ignore[valid-type]


def _dataset_path(path: str) -> str:
    # URIs (s3://...) are checked when the job reads them; a local path must be a finished dataset.
    if path and "://" not in path:
        if not os.path.isdir(path):
            raise ValueError(f"no such dataset directory {path!r} (run jobs/preprocess.py)")
        if not os.path.isfile(os.path.join(path, MANIFEST)):
            raise ValueError(f"{path!r} holds no dataset of ours: no {MANIFEST} "
                             f"(write one with jobs/preprocess.py)")
    return path


class DataConfig(Section):
    path: Annotated[str, AfterValidator(_dataset_path)] = Field(
        "", description="Parquet dataset written by jobs/preprocess.py (directory or URI); "
                        "empty = the embedded synthetic dataset")
    benchmark: Benchmark = Field("ntu60-xsub", description="evaluation protocol; sets the number of classes")
    label_fraction: float = Field(1.0, gt=0.0, le=1.0, description="fraction of training labels used, per "
                                  "class, fixed seed (semi-supervised protocol: 0.01, 0.1)")
    label_seed: int = Field(0, description="seed of the label-fraction sample")
    crop_min: float = Field(0.5, gt=0.0, le=1.0, description="training crop: smallest fraction of the frames")
    crop_max: float = Field(1.0, gt=0.0, le=1.0, description="training crop: largest fraction of the frames")
    eval_crop: float = Field(0.95, gt=0.0, le=1.0, description="centred crop fraction for evaluation")
    rotate_degrees: float = Field(0.0, ge=0.0, description="training rotation about the vertical, up to +-")
    scale: float = Field(0.0, ge=0.0, lt=1.0, description="training per-axis scale, 1 +- this")
    in_memory_mb: float = Field(512.0, description="datasets smaller than this (Parquet MB) are read once "
                                "into Ray's object store, not every epoch")
    synthetic_samples: int = Field(720, ge=20, description="size of the embedded synthetic dataset")
    synthetic_seed: int = Field(0, description="seed of the embedded synthetic dataset")
    shuffle_buffer: int = Field(2000, ge=0, description="training rows each worker shuffles in memory every "
                                "epoch, seeded by (seed, epoch, rank); 0 = no shuffling")
    cache_dir: str = Field("~/.cache/skelmae", description="where the embedded synthetic dataset is generated")

    @model_validator(mode="after")
    def _crop_order(self) -> DataConfig:
        if self.crop_min > self.crop_max:
            raise ValueError("crop_min: need 0 < crop_min <= crop_max <= 1")
        return self

    @property
    def num_classes(self) -> int:
        return benchmark_num_classes(self.benchmark)


class OptimConfig(Section):
    epochs: int = Field(12, ge=1, description="training epochs")
    batch_size: int = Field(32, ge=1, description="global batch: sequences per optimizer step, all workers and "
                            "accumulation steps together (per-worker micro-batch = batch_size / (num_workers x "
                            "accum_steps))")
    accum_steps: int = Field(1, ge=1, description="gradient accumulation micro-steps per optimizer step")
    base_lr: float = Field(8e-3, gt=0.0, description="peak learning rate per 256 sequences; the run uses "
                           "lr = base_lr x batch_size / 256 (MAE/MAMP's scaling rule)")
    min_lr: float = Field(1e-5, ge=0.0, description="learning rate at the end of the cosine decay; <= lr")
    weight_decay: float = Field(0.05, ge=0.0, description="AdamW weight decay")
    warmup_epochs: float = Field(1.0, ge=0.0, description="linear warm-up epochs; <= epochs")
    grad_clip: float = Field(1.0, ge=0.0, description="gradient norm clip; 0 disables")
    layer_decay: float = Field(1.0, gt=0.0, le=1.0, description="fine-tuning: layer-wise lr decay (MAE's "
                               "param_groups_lrd); 1 = off")

    @property
    def lr(self) -> float:
        """The peak learning rate of this global batch."""
        return self.base_lr * self.batch_size / 256

    @model_validator(mode="after")
    def _schedule(self) -> OptimConfig:
        if self.min_lr > self.lr:
            raise ValueError(f"min_lr: must be in [0, lr] (lr = base_lr x batch_size / 256 = {self.lr:.3g})")
        if self.warmup_epochs > self.epochs:
            raise ValueError("warmup_epochs: must be in [0, epochs]")
        return self


def _check_global_batch(optim: OptimConfig, scaling: ScalingConfig) -> None:
    parts = scaling.num_workers * optim.accum_steps
    if optim.batch_size % parts:
        raise ValueError(f"optim.batch_size: the global batch {optim.batch_size} must divide by "
                         f"scaling.num_workers x optim.accum_steps = {parts}")


class ScalingConfig(Section):
    num_workers: int = Field(1, ge=1, description="Ray Train workers (the most, when min_workers is set)")
    # Elastic: with a minimum, a lost node shrinks the run to the workers left instead of waiting for a
    # replacement forever (Ray Train's fixed-size behaviour); it grows back when resources return.
    min_workers: int = Field(0, ge=0, description="elastic training: the fewest workers the run continues "
                             "with after a node is lost (needs max_failures > 0); 0 = exactly num_workers")
    use_gpu: bool = Field(False, description="one GPU per worker")
    # Leave one whole CPU free on the node for Ray Data: its file-listing task needs a full CPU, so
    # 2 workers x 1 CPU on a 2-CPU node deadlock (use 2 x 0.5 there).
    cpus_per_worker: float = Field(1.0, gt=0.0, description="CPUs each worker reserves (fractions allowed)")
    torch_threads: int = Field(0, ge=0, description="torch intra-op threads per worker; 0 = torch's default")
    precision: Literal["auto", "fp32", "bf16"] = Field(
        "auto", description="auto: bf16 autocast on GPU, fp32 on CPU; bf16 forces autocast (on CPU too)")

    @model_validator(mode="after")
    def _min_le_max(self) -> ScalingConfig:
        if self.min_workers > self.num_workers:
            raise ValueError("min_workers: must be in [0, num_workers]")
        return self


class TrackingConfig(Section):
    experiment: str = Field("skelmae", min_length=1, description="MLflow experiment")
    run_name: str = Field("", description="MLflow run and Ray Train run name; empty = job kind + timestamp")
    storage_path: str = Field("runs", description="Ray Train storage (local directory or object-store URI); "
                              "relative paths resolve against the working directory")
    tracking_uri: str = Field("", description="MLflow tracking URI; empty = $MLFLOW_TRACKING_URI, else "
                              "sqlite file mlflow.db in the working directory")
    num_to_keep: int = Field(2, ge=1, description="Ray Train checkpoints kept per run (the latest ones)")


def pretrain_optim(**overrides) -> OptimConfig:
    """The pretraining schedule of the embedded default (364 training sequences; NTU configs set their own).

    An MAE needs optimizer steps, not epochs: 12 epochs at batch 32 (132 steps) left the frozen linear probe
    below the random-init encoder's (0.78 against 0.84, seed 0). Batch 8 at the same peak lr (1.5e-3, base
    4.8e-2 per 256) takes 45 steps an epoch for about the same compute per sample; 30 epochs (1,350 steps,
    ~4 min on 2 cores) reach 0.88; 20 epochs were not enough on every seed (README's table).
    """
    return OptimConfig(**{"epochs": 30, "batch_size": 8, "base_lr": 4.8e-2, **overrides})


class PretrainConfig(Section):
    model: ModelConfig = Field(default_factory=ModelConfig, description="SkeletonMAE")
    data: DataConfig = Field(default_factory=DataConfig)
    optim: OptimConfig = Field(default_factory=pretrain_optim)
    scaling: ScalingConfig = Field(default_factory=ScalingConfig)
    tracking: TrackingConfig = Field(default_factory=TrackingConfig)
    seed: int = Field(0, description="seed of weights, masks and augmentation")
    checkpoint_every: int = Field(1, ge=1, description="epochs between checkpoints")
    knn_every: int = Field(4, ge=0, description="epochs between kNN monitor scores; 0 = the last epoch only")
    knn_k: int = Field(20, ge=1, description="neighbours of the kNN monitor")
    figure_every: int = Field(0, ge=0, description="epochs between reconstruction figures; 0 = at the end only")
    resume: bool = Field(False, description="continue run tracking.run_name from its latest checkpoint")
    max_failures: int = Field(0, ge=-1, description="worker failures Ray Train retries (-1 = unlimited)")
    linear_eval: bool = Field(True, description="run the linear evaluation when pretraining ends")
    fail_at_epoch: int = Field(-1, description="test-only fault injection: rank 0 crashes once when this "
                               "epoch starts (-1 = never)")

    @model_validator(mode="after")
    def _resume_needs_a_name(self) -> PretrainConfig:
        if self.resume and not self.tracking.run_name:
            raise ValueError("resume: needs tracking.run_name of the run to continue")
        _check_global_batch(self.optim, self.scaling)
        return self


_PRETRAINED = "MLflow run ID of a pretraining run, or a checkpoint path"


def finetune_optim(**overrides) -> OptimConfig:
    """The fine-tuning schedule of the embedded default (the sweep's champion starts from it too).

    About 11 optimizer steps per epoch on the embedded data: 10 epochs at lr 5e-4 (base 4e-3) left the
    model under-fitted at 0.27-0.5 val accuracy, below the frozen linear probe; 30 epochs at lr 2e-3
    (base 1.6e-2) fit it. NTU runs take MAMP's recipe from configs/mamp/finetune_*.yaml.
    """
    return OptimConfig(**{"epochs": 30, "base_lr": 1.6e-2, **overrides})


class FinetuneConfig(Section):
    pretrained: str = Field("", description=f"{_PRETRAINED}; empty = train from scratch")
    model: ModelConfig = Field(default_factory=ModelConfig, description="SkeletonMAE (from --pretrained if given)")
    data: DataConfig = Field(default_factory=DataConfig)
    optim: OptimConfig = Field(default_factory=finetune_optim)
    scaling: ScalingConfig = Field(default_factory=ScalingConfig)
    tracking: TrackingConfig = Field(default_factory=TrackingConfig)
    seed: int = Field(0, description="seed of the head, dropout and augmentation")
    dropout: float = Field(0.3, ge=0.0, lt=1.0, description="dropout before the classification head")
    drop_path: float = Field(0.1, ge=0.0, lt=1.0, description="stochastic depth of the encoder while "
                             "fine-tuning (largest rate, last block; MAMP: 0.3); overrides the pretrained model's")
    label_smoothing: float = Field(0.1, ge=0.0, lt=1.0, description="cross-entropy label smoothing")
    checkpoint_every: int = Field(1, ge=1, description="epochs between checkpoints")
    max_failures: int = Field(0, ge=-1, description="worker failures Ray Train retries (-1 = unlimited)")
    register_as: str = Field("", description="MLflow registered-model name for the classifier; empty = not "
                             "registered")
    freeze_encoder: bool = Field(False, description="train the head only on the frozen encoder, end to end "
                                 "over epochs with augmentation (MAMP's linear-evaluation protocol; "
                                 "jobs/linear_eval.py is the fast frozen-feature probe)")
    resume: bool = Field(False, description="continue run tracking.run_name from its latest checkpoint")

    @model_validator(mode="after")
    def _global_batch(self) -> FinetuneConfig:
        if self.resume and not self.tracking.run_name:
            raise ValueError("resume: needs tracking.run_name of the run to continue")
        _check_global_batch(self.optim, self.scaling)
        return self


class LinearEvalConfig(Section):
    pretrained: str = Field("", description=f"{_PRETRAINED}; empty = randomly initialised encoder")
    model: ModelConfig = Field(default_factory=ModelConfig, description="SkeletonMAE (from --pretrained if given)")
    data: DataConfig = Field(default_factory=DataConfig)
    scaling: ScalingConfig = Field(default_factory=ScalingConfig)
    tracking: TrackingConfig = Field(default_factory=TrackingConfig)
    seed: int = Field(0, description="seed of the probe")
    epochs: int = Field(200, ge=1, description="linear classifier epochs (full batch on the gathered features)")
    lr: float = Field(0.01, gt=0.0, description="linear classifier learning rate")
    weight_decay: float = Field(1e-4, ge=0.0, description="linear classifier weight decay")
    batch_size: int = Field(64, ge=1, description="feature extraction batch per worker")
    knn_k: int = Field(20, ge=1, description="neighbours of the kNN score")


def _sweep_pretrain_defaults() -> PretrainConfig:
    return PretrainConfig(
        optim=OptimConfig(epochs=6, base_lr=1.2e-2, warmup_epochs=1.0),
        scaling=ScalingConfig(cpus_per_worker=0.49, torch_threads=1),
        # A figure every epoch: ASHA may stop any trial, the best included, before its last epoch.
        knn_every=1, figure_every=1, linear_eval=False, checkpoint_every=1,
    )


class SweepConfig(Section):
    pretrain: PretrainConfig = Field(default_factory=_sweep_pretrain_defaults,
                                     description="every trial starts from this; the search space overrides parts")
    strategies: CommaList[MaskStrategy] = Field(["random"], min_length=1, description="masking strategies")
    mask_ratios: CommaList[Annotated[float, Field(ge=0.0, lt=1.0)]] = Field(
        [0.5, 0.75, 0.9], min_length=1, description="mask ratios")
    base_lrs: CommaList[Annotated[float, Field(gt=0.0)]] = Field(
        [], description="base learning rates (per 256 sequences); empty = pretrain.optim.base_lr")
    presets: CommaList[str] = Field([], description=f"model presets {sorted(PRESETS)}; empty = pretrain.model.preset")
    search: Literal["grid", "random"] = Field("grid", description="grid: every combination; random: num_samples "
                                              "draws from the lists")
    num_samples: int = Field(4, ge=1, description="trials of a random search")
    scheduler: Literal["asha", "fifo"] = Field("asha", description="asha stops weak trials early")
    grace_period: int = Field(2, ge=1, description="epochs before ASHA may stop a trial")
    reduction_factor: int = Field(2, ge=2, description="ASHA's reduction factor")
    max_concurrent: int = Field(0, ge=0, description="concurrent trials; 0 = as many as the cluster's CPUs/GPUs hold")
    name: str = Field("", description="sweep name (Tune experiment dir + MLflow parent run); empty = timestamped")
    resume: bool = Field(False, description="continue sweep `name`: finished trials are not rerun")
    report: bool = Field(True, description="log the dashboards report to the parent run")
    evaluate_best: bool = Field(True, description="linear eval of the best trial (confusion matrix, feature map)")
    champion: str = Field("", description="registered-model name: fine-tune the best trial, register the "
                          "classifier, alias it `champion`; empty = none")
    champion_epochs: int = Field(30, ge=1, description="fine-tuning epochs of the champion (the rest of its "
                                 "schedule: jobs/finetune.py's defaults)")
    release_timeout_s: float = Field(300.0, gt=0.0, description="after the trials, the longest wait for the CPUs "
                                     "they held before the best trial's evaluation fails, naming what holds them")

    @field_validator("presets")
    @classmethod
    def _known_presets(cls, presets: list[str]) -> list[str]:
        for p in presets:
            if p not in PRESETS:
                raise ValueError(f"unknown preset {p!r}; known: {sorted(PRESETS)}")
        return presets

    @model_validator(mode="after")
    def _resume_needs_a_name(self) -> SweepConfig:
        if self.resume and not self.name:
            raise ValueError("resume: needs the name of the sweep to continue")
        return self

"""Masking-ratio sweeps on Ray Tune, each trial a Ray Train pretraining run scored downstream.

Pretraining loss is not comparable across mask ratios, so the objective is the frozen-feature kNN
accuracy on the validation split (`score`, reported after every evaluation interval). ASHA stops weak
trials on it. The sweep is one MLflow parent run; every trial is a child run. Under Ray Train V2 a
`Tuner(trainer)` is not supported: each trial is a function that builds and fits a `TorchTrainer`
and forwards its reports to Tune with `TuneReportCallback`.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import ray
import ray.train
from mlflow.tracking import MlflowClient
from ray import tune
from ray.train.torch import TorchTrainer
from ray.tune.integration.ray_train import TuneReportCallback
from ray.tune.schedulers import ASHAScheduler, FIFOScheduler

from skelmae.config.loader import ConfigError, flatten, from_dict
from skelmae.data.datasets import count_split, resolve_data_path
from skelmae.config.jobs import (
    FinetuneConfig,
    LinearEvalConfig,
    OptimConfig,
    PretrainConfig,
    ScalingConfig,
    TrackingConfig,
)
from skelmae.model.config import ModelConfig
from skelmae.train.launcher import _finish, _scaling, init_ray, job_datasets, run_finetune, run_linear_eval, start_mlflow_run
from skelmae.serve.registry import promote
from skelmae.track.conventions import ensure_experiment, resolve_tracking_uri
from skelmae.train.loops import CHECKPOINT_FILE, pretrain_loop

STRATEGIES = ("random", "joint", "frame", "spatiotemporal", "motion")
TRIAL_FUNCTION_CPU = 0.01


def _sweep_pretrain_defaults() -> PretrainConfig:
    return PretrainConfig(
        optim=OptimConfig(epochs=6, lr=1.5e-3, warmup_epochs=1.0),
        scaling=ScalingConfig(cpus_per_worker=0.49, torch_threads=1),
        # A figure every epoch: ASHA may stop any trial, the best included, before its last epoch.
        knn_every=1, figure_every=1, linear_eval=False, checkpoint_every=1,
    )


@dataclass
class SweepConfig:
    # Every trial starts from this pretraining config; the search space overrides parts of it.
    pretrain: PretrainConfig = field(default_factory=_sweep_pretrain_defaults)
    strategies: list[str] = field(default_factory=lambda: ["random"])
    mask_ratios: list[float] = field(default_factory=lambda: [0.5, 0.75, 0.9])
    lrs: list[float] = field(default_factory=list)  # empty: pretrain.optim.lr
    presets: list[str] = field(default_factory=list)  # empty: pretrain.model.preset
    search: str = "grid"  # grid: every combination; random: num_samples draws from the lists
    num_samples: int = 4
    scheduler: str = "asha"  # asha | fifo
    grace_period: int = 2  # epochs before ASHA may stop a trial
    reduction_factor: int = 2
    max_concurrent: int = 0  # 0: as many as the cluster's CPUs/GPUs hold
    name: str = ""  # sweep name (Tune experiment dir + MLflow parent run); empty: timestamped
    resume: bool = False  # continue sweep `name`: finished trials are not rerun
    report: bool = True  # log the dashboards report to the parent run
    evaluate_best: bool = True  # linear eval of the best trial (confusion matrix, feature map)
    # Registered-model name: fine-tune the best trial, register the classifier, alias it `champion`.
    champion: str = ""
    champion_epochs: int = 10

    def validate(self) -> None:
        if not self.strategies:
            raise ConfigError("strategies", "must not be empty")
        for s in self.strategies:
            if s not in STRATEGIES:
                raise ConfigError("strategies", f"unknown masking strategy {s!r} (known: {', '.join(STRATEGIES)})")
        if not self.mask_ratios:
            raise ConfigError("mask_ratios", "must not be empty")
        for r in self.mask_ratios:
            if not 0 <= r < 1:
                raise ConfigError("mask_ratios", f"every ratio must be in [0, 1), got {r}")
        for lr in self.lrs:
            if lr <= 0:
                raise ConfigError("lrs", f"learning rates must be > 0, got {lr}")
        for p in self.presets:
            ModelConfig(preset=p)  # raises ConfigError("preset") for an unknown preset
        if self.search not in ("grid", "random"):
            raise ConfigError("search", "must be grid or random")
        if self.scheduler not in ("asha", "fifo"):
            raise ConfigError("scheduler", "must be asha or fifo")
        if self.num_samples < 1 or self.grace_period < 1 or self.reduction_factor < 2:
            raise ConfigError("grace_period" if self.grace_period < 1 else "num_samples", "out of range")
        if self.champion_epochs < 1:
            raise ConfigError("champion_epochs", "must be >= 1")
        if self.resume and not self.name:
            raise ConfigError("resume", "needs the name of the sweep to continue")


def search_space(cfg: SweepConfig) -> tuple[dict, int]:
    """Tune param space and the number of samples to draw from it."""
    axes = {"strategy": cfg.strategies, "mask_ratio": cfg.mask_ratios}
    if cfg.lrs:
        axes["lr"] = cfg.lrs
    if cfg.presets:
        axes["preset"] = cfg.presets
    if cfg.search == "grid":
        return {k: tune.grid_search(list(v)) for k, v in axes.items()}, 1
    return {k: tune.choice(list(v)) for k, v in axes.items()}, cfg.num_samples


def trial_pretrain_config(base: dict, params: dict) -> PretrainConfig:
    """The pretraining config of one trial: the base config with the trial's choices applied."""
    d = json.loads(json.dumps(base))
    model = d["model"]
    if "preset" in params:
        # A different preset resets the sizes; the masking choices below still apply.
        model = {"preset": params["preset"]}
    model["mask_strategy"] = params["strategy"]
    model["mask_ratio"] = params["mask_ratio"]
    if params["strategy"] == "spatiotemporal":
        # Split the target ratio between joints and segments: 1 - (1-j)(1-f) = r with j = f.
        sub = 1 - math.sqrt(1 - params["mask_ratio"])
        model["joint_mask_ratio"] = sub
        model["frame_mask_ratio"] = sub
    d["model"] = model
    if "lr" in params:
        d["optim"]["lr"] = params["lr"]
    return from_dict(PretrainConfig, d)


def sweep_trial(config: dict) -> None:
    """One Tune trial: a child MLflow run and a Ray Train pretraining run reporting to Tune."""
    ctx = tune.get_context()
    trial_id = ctx.get_trial_id()
    cfg = trial_pretrain_config(config["base"], config["params"])
    run_name = f"{config['sweep_name']}-{trial_id}"
    cfg.tracking.run_name = run_name
    tracking_uri, run_id = start_mlflow_run(
        "pretrain", cfg, config["data_path"], run_name, resume=True,
        parent_run_id=config["parent_run_id"],
        extra_tags={"sweep": config["sweep_name"], "trial_id": trial_id},
    )
    datasets = job_datasets(config["data_path"], cfg.data, {"train": "train", "knn_train": "train", "knn_val": "test"})
    loop_config = {
        "cfg": asdict(cfg), "tracking_uri": tracking_uri, "run_id": run_id,
        "steps_per_epoch": config["steps_per_epoch"], "data_path": config["data_path"],
    }
    trainer = TorchTrainer(
        pretrain_loop,
        train_loop_config=loop_config,
        scaling_config=_scaling(cfg.scaling),
        run_config=ray.train.RunConfig(
            # A fixed name per trial: a restored sweep resumes the trial from its last checkpoint.
            name=run_name,
            storage_path=config["storage_path"],
            callbacks=[TuneReportCallback()],
            checkpoint_config=ray.train.CheckpointConfig(num_to_keep=1),
        ),
        datasets=datasets,
    )
    result = trainer.fit()
    # Tune usually ends the trial before fit() returns (ASHA stops every trial at max_t, and early
    # ones sooner), so the child run is closed by the driver from Tune's results: _close_trial_run.
    # This line is reached under FIFO or when the trial outlives its last report.
    _finish(tracking_uri, run_id, result, log_checkpoint=True)


def _close_trial_run(client: MlflowClient, run_id: str, result: tune.Result, decision: str) -> None:
    """Give a trial's child run its final score, scheduler decision, checkpoint artifact and status."""
    run = client.get_run(run_id)
    if "scheduler_decision" in run.data.tags:
        return  # recorded by the sweep this one resumes
    client.set_tag(run_id, "scheduler_decision", "stopped early by ASHA" if decision == "stopped early" else decision)
    metrics = result.metrics or {}
    if "score" in metrics:
        client.log_metric(run_id, "final_score", float(metrics["score"]))
    if run.info.status != "RUNNING":
        return  # the trial function closed it itself
    # The checkpoint becomes a run artifact, so `--pretrained <trial run ID>` works like any pretraining run.
    ckpt = metrics.get("checkpoint_path")
    if ckpt and os.path.isfile(os.path.join(ckpt, CHECKPOINT_FILE)):
        client.log_artifact(run_id, os.path.join(ckpt, CHECKPOINT_FILE), "checkpoint")
    status = {"completed": "FINISHED", "stopped early": "KILLED"}.get(decision, "FAILED")
    client.set_terminated(run_id, status=status)


def _max_concurrent(cfg: SweepConfig) -> int:
    if cfg.max_concurrent:
        return cfg.max_concurrent
    res = ray.cluster_resources()
    s = cfg.pretrain.scaling
    # Ray Data lists files in a task that needs a whole CPU and exposes no knob for it: keep one CPU
    # free or every trial's data path waits forever. Each trial holds its workers' CPUs plus the
    # sliver its orchestrating function asks for (0.49 + 0.01: two trials per spare CPU).
    per_trial = s.num_workers * s.cpus_per_worker + TRIAL_FUNCTION_CPU
    by_cpu = int((res.get("CPU", 1) - 1) / per_trial + 1e-6)
    if s.use_gpu:
        by_cpu = min(by_cpu, int(res.get("GPU", 0) // s.num_workers))
    return max(1, by_cpu)


def run_sweep(cfg: SweepConfig) -> dict:
    pre = cfg.pretrain
    data_path = resolve_data_path(pre.data)
    name = cfg.name or f"sweep-{time.strftime('%Y%m%d-%H%M%S')}"
    storage = pre.tracking.storage_path
    storage = storage if "://" in storage else str(Path(storage).expanduser().resolve())
    tracking_uri = resolve_tracking_uri(pre.tracking.tracking_uri)
    pre.tracking.tracking_uri = tracking_uri  # trials run elsewhere: hand them an absolute URI
    ensure_experiment(pre.tracking.experiment, tracking_uri)

    _, parent_id = start_mlflow_run("sweep", pre, data_path, name, resume=cfg.resume,
                                    extra_tags={"sweep": name})
    client = MlflowClient(tracking_uri)
    sweep_params = {k: v for k, v in flatten(asdict(cfg)).items() if not k.startswith("pretrain.")}
    sweep_params["metric"] = "score"
    for k, v in sweep_params.items():
        try:
            client.log_param(parent_id, f"sweep.{k}" if k != "metric" else k, str(v))
        except Exception:  # noqa: BLE001 - a resumed sweep logs the same params again; MLflow refuses
            pass
    print(f"[skelmae] sweep {name}: MLflow parent run {parent_id} at {tracking_uri}")

    init_ray()
    n_train = count_split(data_path, pre.data.benchmark, "train")
    trial_config = {
        "base": asdict(pre),
        "data_path": data_path,
        "sweep_name": name,
        "parent_run_id": parent_id,
        "storage_path": os.path.join(storage, name, "trials"),
        "steps_per_epoch": math.ceil(n_train / pre.scaling.num_workers / pre.optim.batch_size),
    }
    space, num_samples = search_space(cfg)
    scheduler = (
        ASHAScheduler(time_attr="training_iteration", max_t=pre.optim.epochs, grace_period=cfg.grace_period,
                      reduction_factor=cfg.reduction_factor)
        if cfg.scheduler == "asha" else FIFOScheduler()
    )
    # The trial function only orchestrates; its Train workers hold the CPUs (Tune refuses an empty
    # request, so it asks for a sliver).
    trainable = tune.with_resources(sweep_trial, {"CPU": TRIAL_FUNCTION_CPU})
    tune_dir = os.path.join(storage, name)
    if cfg.resume and tune.Tuner.can_restore(os.path.join(tune_dir, "tune")):
        tuner = tune.Tuner.restore(os.path.join(tune_dir, "tune"), trainable, resume_errored=True,
                                   param_space={"params": space, **trial_config})
    else:
        tuner = tune.Tuner(
            trainable,
            param_space={"params": space, **trial_config},
            tune_config=tune.TuneConfig(
                metric="score", mode="max", scheduler=scheduler, num_samples=num_samples,
                max_concurrent_trials=_max_concurrent(cfg),
            ),
            run_config=tune.RunConfig(name="tune", storage_path=tune_dir),
        )
    results = tuner.fit()
    return _record_outcome(cfg, name, results, client, parent_id, tracking_uri, pre)


def _record_outcome(cfg, name, results, client, parent_id, tracking_uri, pre) -> dict:
    trials = []
    for r in results:
        params = r.config["params"]
        iters = int(r.metrics.get("training_iteration", 0)) if r.metrics else 0
        status = "error" if r.error else ("stopped early" if iters < pre.optim.epochs else "completed")
        run_id = _child_run(client, parent_id, f"{name}-{r.metrics.get('trial_id')}") if r.metrics else None
        if run_id:
            _close_trial_run(client, run_id, r, status)
        trials.append({
            "trial_id": r.metrics.get("trial_id") if r.metrics else None,
            "run_id": run_id,
            **params,
            "epochs_trained": iters,
            "score": float(r.metrics.get("score", float("nan"))) if r.metrics else float("nan"),
            "decision": status,
        })
    # The last score goes with the last checkpoint, the one logged and evaluated further.
    best = results.get_best_result(metric="score", mode="max", scope="last")
    best_params = best.config["params"]
    best_trial = best.metrics.get("trial_id")
    best_run = _child_run(client, parent_id, f"{name}-{best_trial}")
    # The score it was chosen by (its last report), not its peak: the peak's weights were not kept.
    best_score = float(best.metrics.get("score", float("nan")))
    client.set_tag(parent_id, "best_trial_run_id", best_run or "")
    client.set_tag(parent_id, "best_config", json.dumps(best_params))
    client.log_metric(parent_id, "best_score", best_score)
    client.log_dict(parent_id, {"trials": trials, "best": {"trial_id": best_trial, "run_id": best_run,
                                                           "params": best_params, "score": best_score}},
                    "sweep_results.json")
    client.set_terminated(parent_id, status="FINISHED")
    out = {"name": name, "parent_run_id": parent_id, "best_run_id": best_run, "best_params": best_params,
           "best_score": best_score, "trials": trials, "tracking_uri": tracking_uri}
    if best_run and cfg.evaluate_best:
        lin = LinearEvalConfig(pretrained=best_run, data=pre.data, scaling=pre.scaling, seed=pre.seed,
                               tracking=TrackingConfig(**{**asdict(pre.tracking), "run_name": f"{name}-best-linear"}))
        out["best_linear_eval"] = run_linear_eval(lin)["metrics"]
    if best_run and cfg.champion:
        ft = FinetuneConfig(pretrained=best_run, data=pre.data, scaling=pre.scaling, seed=pre.seed,
                            optim=OptimConfig(epochs=cfg.champion_epochs, batch_size=pre.optim.batch_size),
                            tracking=TrackingConfig(**{**asdict(pre.tracking), "run_name": f"{name}-champion"}),
                            register_as=cfg.champion)
        res = run_finetune(ft)
        version = promote(res["run_id"], cfg.champion, "champion", tracking_uri)
        client.set_tag(parent_id, "champion_model", f"models:/{cfg.champion}@champion (version {version})")
        out["champion"] = {"run_id": res["run_id"], "version": version, "uri": f"models:/{cfg.champion}@champion"}
    if cfg.report:
        from dashboards.compare import build_report, log_report_to_run

        report = build_report(pre.tracking.experiment, tracking_uri, parent_run_id=parent_id)
        log_report_to_run(report, parent_id, tracking_uri)
    return out


def _child_run(client: MlflowClient, parent_id: str, run_name: str) -> str | None:
    exp = client.get_run(parent_id).info.experiment_id
    runs = client.search_runs(
        [exp], filter_string=f"tags.mlflow.parentRunId = '{parent_id}' and tags.`mlflow.runName` = '{run_name}'",
        max_results=1,
    )
    return runs[0].info.run_id if runs else None


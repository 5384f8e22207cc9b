"""Masking-ratio sweeps on Ray Tune, each trial a Ray Train pretraining run scored downstream.

Pretraining loss is not comparable across mask ratios, so the objective is the frozen-feature kNN
accuracy on the validation split (`score`, reported after every evaluation interval). ASHA stops weak
trials on it. The sweep is one MLflow parent run; every trial is a child run. Under Ray Train V2 a
`Tuner(trainer)` is not supported: each trial is a function that builds and fits a `TorchTrainer`
and forwards its reports to Tune with `TuneReportCallback`.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from collections.abc import Callable
from contextlib import contextmanager

import ray
import ray.train
from mlflow.tracking import MlflowClient
from ray import tune
from ray.tune.integration.ray_train import TuneReportCallback
from ray.tune.schedulers import ASHAScheduler, FIFOScheduler

from data_pipeline.redact import redact
from skelmae import storage_paths
from skelmae.checkpoint import ARTIFACT_DIR, CHECKPOINT_FILE
from skelmae.config.jobs import FinetuneConfig, LinearEvalConfig, PretrainConfig, SweepConfig, finetune_optim
from skelmae.config.loader import flatten, to_dict
from skelmae.data.datasets import count_split, resolve_data_path
from skelmae.model.masking import scaled_subratios
from skelmae.serve.registry import promote
from skelmae.track import run_records
from skelmae.track.conventions import ensure_experiment, resolve_tracking_uri
from skelmae.train.epoch_log import EpochMetricsLogger
from skelmae.train.launcher import (
    finish_run,
    init_ray_checked,
    job_datasets,
    make_trainer,
    run_finetune,
    run_linear_eval,
    start_mlflow_run,
    steps_per_epoch,
    storage_path,
)
from skelmae.train.lifecycle import run_lifecycle, sigterm_as_interrupt
from skelmae.train.loops import pretrain_loop
from skelmae.tune.release import wait_for_cpus
from skelmae.tune.summary import epochs_run, status_reporter, trial_decision

log = logging.getLogger(__name__)
TRIAL_FUNCTION_CPU = 0.01
# Called with (experiment, tracking_uri, parent_run_id) once the parent run is closed, e.g. to log a
# comparison report to it (dashboards.sweep_report.log_sweep_report): the sweep imports nothing above it.
ReportFn = Callable[[str, str, str], None]


def search_space(cfg: SweepConfig) -> tuple[dict, int]:
    """Tune param space and the number of samples to draw from it."""
    axes = {"strategy": cfg.strategies, "mask_ratio": cfg.mask_ratios}
    if cfg.base_lrs:
        axes["base_lr"] = cfg.base_lrs
    if cfg.presets:
        axes["preset"] = cfg.presets
    if cfg.search == "grid":
        return {k: tune.grid_search(list(v)) for k, v in axes.items()}, 1
    return {k: tune.choice(list(v)) for k, v in axes.items()}, cfg.num_samples


def trial_pretrain_config(base: PretrainConfig, params: dict) -> PretrainConfig:
    """The pretraining config of one trial: the base config with the trial's choices applied."""
    d = base.model_dump(mode="json")
    model = d["model"]
    if "preset" in params:
        # A different preset resets the sizes; the masking choices below still apply.
        model = {"preset": params["preset"]}
    model["mask_strategy"] = params["strategy"]
    model["mask_ratio"] = params["mask_ratio"]
    if params["strategy"] == "spatiotemporal":
        # Split the target ratio evenly between joints and segments (masking's rule for an override).
        model["joint_mask_ratio"], model["frame_mask_ratio"] = scaled_subratios(1.0, 1.0, params["mask_ratio"])
    d["model"] = model
    if "base_lr" in params:
        d["optim"]["base_lr"] = params["base_lr"]
    return PretrainConfig.model_validate(d)


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
    datasets = job_datasets(config["data_path"], cfg.data, {"train": "train", "knn_train": "train", "knn_val": "test"},
                            seed=cfg.seed)
    loop_config = {
        "cfg": cfg, "tracking_uri": tracking_uri, "run_id": run_id,
        "steps_per_epoch": config["steps_per_epoch"], "data_path": config["data_path"],
    }
    # A fixed name per trial: a restored sweep resumes the trial from its last checkpoint. MLflow first:
    # Tune may stop the trial inside its report, and later callbacks never run.
    trainer = make_trainer(pretrain_loop, loop_config, cfg, datasets, run_name, config["storage_path"],
                           [EpochMetricsLogger(tracking_uri, run_id), TuneReportCallback()], num_to_keep=1)
    with run_lifecycle(tracking_uri, run_id), run_records.system_metrics(tracking_uri, run_id):
        result = trainer.fit()
    # Tune usually ends the trial before fit() returns (ASHA stops every trial at max_t, and early
    # ones sooner), so the child run is closed by the driver from Tune's results: _close_trial_run.
    # This line is reached under FIFO or when the trial outlives its last report.
    finish_run(tracking_uri, run_id, result, log_checkpoint=True, as_model=True)


def _close_trial_run(client: MlflowClient, run_id: str, result: tune.Result, decision: str,
                     storage: str = "") -> None:
    """Give a trial's child run its final score, scheduler decision, checkpoint artifact and status."""
    run = client.get_run(run_id)
    if "scheduler_decision" in run.data.tags:
        return  # recorded by the sweep this one resumes
    client.set_tag(run_id, "scheduler_decision", decision)
    metrics = result.metrics or {}
    if "score" in metrics:
        client.log_metric(run_id, "final_score", float(metrics["score"]))
    if run.info.status != "RUNNING":
        return  # the trial function closed it itself
    # The checkpoint becomes a run artifact, so `--pretrained <trial run ID>` works like any pretraining run.
    ckpt = metrics.get("checkpoint_path")
    # Tune reports the path within the filesystem (no s3:// scheme): put back the storage's scheme.
    ckpt_file = storage_paths.join(storage_paths.like(ckpt, storage), CHECKPOINT_FILE) if ckpt else ""
    if ckpt_file and storage_paths.is_file(ckpt_file):  # a local path or an object-store URI
        with tempfile.TemporaryDirectory() as tmp:
            local = storage_paths.local_copy(ckpt_file, tmp)
            client.log_artifact(run_id, local, ARTIFACT_DIR)
            run_records.log_checkpoint_model(client.tracking_uri, run_id, local, step=int(metrics.get("epoch", 0)))
    status = "FINISHED" if decision == "completed" else "KILLED" if decision.startswith("stopped early") else "FAILED"
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


def run_sweep(cfg: SweepConfig, report: ReportFn | None = None) -> dict:
    """Run the sweep; `report` (if given and `cfg.report`) is called when the parent run is closed."""
    pre = cfg.pretrain
    init_ray_checked(pre.tracking)  # storage fits the cluster, before data or the parent run
    data_path = resolve_data_path(pre.data)
    name = cfg.name or f"sweep-{time.strftime('%Y%m%d-%H%M%S')}"
    storage = storage_path(pre.tracking)
    tracking_uri = resolve_tracking_uri(pre.tracking.tracking_uri)
    pre.tracking.tracking_uri = tracking_uri  # trials run elsewhere: hand them an absolute URI
    experiment_id = ensure_experiment(pre.tracking.experiment, tracking_uri)

    _, parent_id = start_mlflow_run("sweep", pre, data_path, name, resume=cfg.resume,
                                    extra_tags={"sweep": name})
    client = MlflowClient(tracking_uri)
    sweep_params = {k: v for k, v in flatten(to_dict(cfg)).items() if not k.startswith("pretrain.")}
    sweep_params["metric"] = "score"
    for k, v in sweep_params.items():
        try:
            client.log_param(parent_id, f"sweep.{k}" if k != "metric" else k, str(v))
        except Exception:  # noqa: BLE001 - a resumed sweep logs the same params again; MLflow refuses
            pass
    log.info("sweep %s: MLflow parent run %s at %s", name, parent_id, redact(tracking_uri))

    with run_lifecycle(tracking_uri, parent_id), _close_children_on_exit(client, parent_id):
        out = _run_sweep(cfg, pre, name, data_path, parent_id, client, storage, tracking_uri, report)
    return {**out, "experiment_id": experiment_id}


@contextmanager
def _close_children_on_exit(client: MlflowClient, parent_id: str):
    """A sweep that fails or is interrupted ends its still-RUNNING trial runs too (KILLED)."""
    try:
        yield
    except BaseException:
        for run in client.search_runs([client.get_run(parent_id).info.experiment_id],
                                      filter_string=f"tags.mlflow.parentRunId = '{parent_id}' "
                                                    "and attributes.status = 'RUNNING'"):
            client.set_terminated(run.info.run_id, status="KILLED")
        raise


def _run_sweep(cfg, pre, name, data_path, parent_id, client, storage, tracking_uri, report) -> dict:
    n_train = count_split(data_path, pre.data.benchmark, "train")
    trial_config = {
        "base": pre,
        "data_path": data_path,
        "sweep_name": name,
        "parent_run_id": parent_id,
        "storage_path": storage_paths.join(storage, name, "trials"),
        "steps_per_epoch": steps_per_epoch(n_train, pre),
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
    tune_dir = storage_paths.join(storage, name)
    if cfg.resume and tune.Tuner.can_restore(storage_paths.join(tune_dir, "tune")):
        tuner = tune.Tuner.restore(storage_paths.join(tune_dir, "tune"), trainable, resume_errored=True,
                                   param_space={"params": space, **trial_config})
    else:
        tuner = tune.Tuner(
            trainable,
            param_space={"params": space, **trial_config},
            tune_config=tune.TuneConfig(
                metric="score", mode="max", scheduler=scheduler, num_samples=num_samples,
                max_concurrent_trials=_max_concurrent(cfg),
            ),
            run_config=tune.RunConfig(name="tune", storage_path=tune_dir, verbose=1,
                                      progress_reporter=status_reporter(cfg)),
        )
    # Tune's newer console output ignores a progress reporter and shows the first four reported
    # metrics, not the objective: the classic reporter shows the columns asked for.
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    with sigterm_as_interrupt():  # after ray.init(), which installs its own SIGTERM handler
        results = tuner.fit()
    out = _record_outcome(cfg, name, results, client, parent_id, tracking_uri, pre)
    if cfg.report and report is not None:
        report(pre.tracking.experiment, tracking_uri, parent_id)
    return out


def _record_outcome(cfg, name, results, client, parent_id, tracking_uri, pre) -> dict:
    trials = []
    for r in results:
        params = r.config["params"]
        iters = epochs_run(r.metrics)
        status = trial_decision(r.error is not None, iters, pre.optim.epochs, cfg.scheduler)
        run_id = _child_run(client, parent_id, f"{name}-{r.metrics.get('trial_id')}") if r.metrics else None
        if run_id:
            _close_trial_run(client, run_id, r, status, storage_path(pre.tracking))
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
    if best_run and (cfg.evaluate_best or cfg.champion):
        # Never wait silently on CPUs that stopped trials' placement groups still hold.
        wait_for_cpus(pre.scaling.num_workers * pre.scaling.cpus_per_worker, cfg.release_timeout_s,
                      "the best trial's evaluation")
    if best_run and cfg.evaluate_best:
        lin = LinearEvalConfig(pretrained=best_run, data=pre.data, scaling=pre.scaling, seed=pre.seed,
                               tracking=pre.tracking.model_copy(update={"run_name": f"{name}-best-linear"}))
        out["best_linear_eval"] = run_linear_eval(lin)["metrics"]
    if best_run and cfg.champion:
        ft = FinetuneConfig(pretrained=best_run, data=pre.data, scaling=pre.scaling, seed=pre.seed,
                            optim=finetune_optim(epochs=cfg.champion_epochs, batch_size=pre.optim.batch_size),
                            tracking=pre.tracking.model_copy(update={"run_name": f"{name}-champion"}),
                            register_as=cfg.champion, resume=cfg.resume)  # a resumed sweep continues it
        res = run_finetune(ft)
        version = promote(res["run_id"], cfg.champion, "champion", tracking_uri)
        client.set_tag(parent_id, "champion_model", f"models:/{cfg.champion}@champion (version {version})")
        out["champion"] = {"run_id": res["run_id"], "version": version, "uri": f"models:/{cfg.champion}@champion"}
    return out


def _child_run(client: MlflowClient, parent_id: str, run_name: str) -> str | None:
    exp = client.get_run(parent_id).info.experiment_id
    runs = client.search_runs(
        [exp], filter_string=f"tags.mlflow.parentRunId = '{parent_id}' and tags.`mlflow.runName` = '{run_name}'",
        max_results=1,
    )
    return runs[0].info.run_id if runs else None


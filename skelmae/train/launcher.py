"""Driver side of the training jobs: one MLflow run per job, one Ray Train `TorchTrainer` fit.

The driver validates the config (already done by `load_config`), resolves data and the tracking
store, creates the MLflow run (params, tags, config file), builds the Ray Datasets, fits, and logs
the final checkpoint. Per-epoch metrics reach the run through a controller-side callback
(`epoch_log.EpochMetricsLogger`, exactly once each); the driver prints one line per epoch
(`epoch_log.EpochConsole`); the run always ends FINISHED, FAILED or KILLED (`lifecycle.run_lifecycle`).
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import mlflow
import ray
import ray.train
from mlflow.tracking import MlflowClient
from mlflow.utils.mlflow_tags import MLFLOW_GIT_COMMIT
from ray.train.torch import TorchTrainer

from data_pipeline.errors import ConfigError
from data_pipeline.parquet_io import manifest_hash
from data_pipeline.redact import redact
from skelmae import checkpoint, console, storage_paths
from skelmae.config.jobs import (
    DataConfig,
    FinetuneConfig,
    LinearEvalConfig,
    PretrainConfig,
    ScalingConfig,
    TrackingConfig,
)
from skelmae.config.loader import dump_yaml, flatten, to_dict
from skelmae.data.datasets import count_split, label_subset, resolve_data_path, split_datasets
from skelmae.serve.registry import log_classifier
from skelmae.track import run_records
from skelmae.track.conventions import ensure_experiment, git_commit, resolve_pretrained, resolve_tracking_uri
from skelmae.train.epoch_log import KEY, EpochConsole, EpochMetricsLogger
from skelmae.train.lifecycle import run_lifecycle, sigterm_as_interrupt
from skelmae.train.loops import finetune_loop, linear_eval_loop, pretrain_loop
from skelmae.train.progress import EvalProgress
from skelmae.train.storage import check_shared_storage

log = logging.getLogger(__name__)


def init_ray_checked(tracking: TrackingConfig) -> None:
    """Join Ray and check the storage path fits the cluster, before any data is read or run is opened."""
    console.init_ray()
    check_shared_storage(tracking.storage_path)


def _run_name(kind: str, tracking: TrackingConfig) -> str:
    return tracking.run_name or f"{kind}-{time.strftime('%Y%m%d-%H%M%S')}"


def storage_path(tracking: TrackingConfig) -> str:
    """Ray Train storage: an object-store URI as given, a local path made absolute."""
    p = tracking.storage_path
    return p if "://" in p else str(Path(p).expanduser().resolve())


def _find_run(client: MlflowClient, experiment_id: str, run_name: str, kind: str) -> str | None:
    runs = client.search_runs(
        [experiment_id],
        filter_string=f"tags.`mlflow.runName` = '{run_name}' and tags.job_kind = '{kind}'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    return runs[0].info.run_id if runs else None


def start_mlflow_run(kind: str, cfg, data_path: str, run_name: str, extra_tags: dict | None = None,
                     resume: bool = False, parent_run_id: str | None = None,
                     unique_name: bool = False) -> tuple[str, str]:
    """Create (or, on resume, reopen) the job's MLflow run; returns (tracking_uri, run_id).

    `unique_name`: a run of this kind and name that exists already is an error unless `resume` (a job
    whose Ray Train storage is keyed by the name would otherwise pick up the old run's checkpoints)."""
    tracking_uri = resolve_tracking_uri(cfg.tracking.tracking_uri)
    experiment_id = ensure_experiment(cfg.tracking.experiment, tracking_uri)
    client = MlflowClient(tracking_uri)
    existing = _find_run(client, experiment_id, run_name, kind) if (resume or unique_name) else None
    if existing is not None and not resume:
        status = client.get_run(existing).info.status
        raise ConfigError("tracking.run_name", f"a {kind} run named {run_name!r} exists already ({status}, MLflow "
                          f"run {existing}): pass --resume to continue it, or choose a new --tracking.run_name")
    if existing is not None:
        _mark_resumed(client, existing)
        return tracking_uri, existing
    commit = git_commit()
    tags = {
        "job_kind": kind,
        "git_commit": commit,
        MLFLOW_GIT_COMMIT: commit.removesuffix("-dirty"),  # what the MLflow UI shows and links
        "benchmark": cfg.data.benchmark,
        "dataset_path": redact(data_path),
        "dataset_manifest_hash": manifest_hash(data_path),
        "seed": str(cfg.seed),
        **(extra_tags or {}),
    }
    if parent_run_id:
        tags["mlflow.parentRunId"] = parent_run_id
    run = client.create_run(experiment_id, run_name=run_name, tags=tags)
    run_id = run.info.run_id
    params = flatten(to_dict(cfg))
    params["data.num_classes"] = cfg.data.num_classes  # follows from the benchmark; recorded for comparisons
    if hasattr(cfg, "optim"):
        params["optim.lr"] = cfg.optim.lr  # base_lr scaled to the global batch: what the schedule peaks at
    for secret in ("data.path", "tracking.tracking_uri", "tracking.storage_path"):
        params[secret] = redact(str(params[secret]))
    params = {k: ("" if v is None else v) for k, v in params.items()}
    # MlflowClient.log_batch splits into requests of at most 100 params itself.
    client.log_batch(run_id, params=[mlflow.entities.Param(k, str(v)[:6000]) for k, v in params.items()])
    text = dump_yaml(cfg)
    for value in (cfg.data.path, cfg.tracking.tracking_uri, cfg.tracking.storage_path):
        if value:
            text = text.replace(value, redact(value))
    client.log_text(run_id, text, "config.yaml")
    run_records.log_dataset_input(tracking_uri, run_id, data_path, name=cfg.data.benchmark)
    return tracking_uri, run_id


def _experiment_of(tracking_uri: str, run_id: str) -> str:
    """The run's experiment ID, for the job's summary (the MLflow UI link)."""
    return MlflowClient(tracking_uri).get_run(run_id).info.experiment_id


def _mark_resumed(client: MlflowClient, run_id: str) -> None:
    """Reopen a run for `--resume` and say so on its page: when, and after which logged epoch."""
    epochs = [int(m.step) for m in client.get_metric_history(run_id, KEY)]
    run = client.get_run(run_id)
    when = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    after = f"epoch {max(epochs)}" if epochs else "no logged epoch"
    line = f"Resumed {when} (was {run.info.status}; last logged: {after}; continues from the latest checkpoint)."
    note = run.data.tags.get("mlflow.note.content", "")
    client.set_tag(run_id, "mlflow.note.content", f"{note}\n\n{line}".strip())
    client.set_tag(run_id, "resumed_at", when)
    client.set_tag(run_id, "resumed_after_epoch", str(max(epochs)) if epochs else "-1")
    client.set_tag(run_id, "resume_count", str(int(run.data.tags.get("resume_count", "0")) + 1))
    client.update_run(run_id, status="RUNNING")


def steps_per_epoch(n_train: int, cfg) -> int:
    """Optimizer steps per epoch at the global batch: the same for any worker count."""
    if n_train < cfg.optim.batch_size:
        raise ConfigError("optim.batch_size", f"the global batch {cfg.optim.batch_size} is larger than the "
                          f"training split ({n_train} sequences)")
    return n_train // cfg.optim.batch_size


def job_datasets(data_path: str, data: DataConfig, parts: dict[str, str], subset: list[str] | None = None,
                 seed: int = 0) -> dict:
    """The job's Ray Datasets by the names the train loops read (see `split_datasets`); the training split
    streamed from storage reads its parts in a seeded new order each epoch when the data is shuffled."""
    return split_datasets(data_path, data.benchmark, parts, subset, data.in_memory_mb,
                          shuffle_seed=seed if data.shuffle_buffer else None)


def scaling_config(s: ScalingConfig) -> ray.train.ScalingConfig:
    # (min, max) makes Ray Train elastic: it starts with what it gets and shrinks after a node loss.
    elastic = 0 < s.min_workers < s.num_workers
    return ray.train.ScalingConfig(
        num_workers=(s.min_workers, s.num_workers) if elastic else s.num_workers,
        use_gpu=s.use_gpu, resources_per_worker={"CPU": s.cpus_per_worker},
    )


def ordered_data_config() -> ray.train.DataConfig:
    """Ray Train's data ingest with Ray Data's output order preserved: the seeded shuffle buffer then sees
    the same input every run, so a seed (and a restart from a checkpoint) reproduces an epoch."""
    options = ray.train.DataConfig.default_ingest_options()
    options.preserve_order = True
    return ray.train.DataConfig(execution_options=options)


def make_trainer(loop, loop_config: dict, cfg, datasets: dict, run_name: str, storage: str, callbacks: list,
                 max_failures: int = 0, num_to_keep: int | None = None) -> TorchTrainer:
    """The TorchTrainer of every job and sweep trial: the run's scaling, storage, failure and checkpoint
    policy, and data ingest in a preserved order."""
    return TorchTrainer(
        loop,
        train_loop_config=loop_config,
        scaling_config=scaling_config(cfg.scaling),
        run_config=ray.train.RunConfig(
            name=run_name,
            storage_path=storage,
            failure_config=ray.train.FailureConfig(max_failures=max_failures),
            checkpoint_config=ray.train.CheckpointConfig(num_to_keep=num_to_keep),
            callbacks=callbacks,
        ),
        datasets=datasets,
        dataset_config=ordered_data_config(),
    )


def _fit(loop, loop_config: dict, cfg, datasets: dict, run_name: str, max_failures: int, epochs: int = 0):
    """`TorchTrainer.fit()` with the epoch-metrics callback; prints the epoch line while it runs."""
    callbacks = [EpochMetricsLogger(loop_config["tracking_uri"], loop_config["run_id"])] if epochs else []
    trainer = make_trainer(loop, loop_config, cfg, datasets, run_name, storage_path(cfg.tracking), callbacks,
                           max_failures, cfg.tracking.num_to_keep)
    # After ray.init(), whose own SIGTERM handler would end the driver without marking the run.
    with sigterm_as_interrupt(), run_records.system_metrics(loop_config["tracking_uri"], loop_config["run_id"]):
        if not epochs:
            return trainer.fit()
        with EpochConsole(loop_config["tracking_uri"], loop_config["run_id"], epochs):
            return trainer.fit()


def finish_run(tracking_uri: str, run_id: str, result, log_checkpoint: bool, as_model: bool = False) -> str | None:
    """Log the final checkpoint as an artifact (and, `as_model`, a logged model), close the run; returns the
    local checkpoint file."""
    client = MlflowClient(tracking_uri)
    ckpt_file = None
    if getattr(result, "error", None) is not None:  # Train V2 raises instead; kept for a returned error
        client.set_terminated(run_id, status="FAILED")
        raise RuntimeError(f"training failed: {result.error}") from result.error
    if log_checkpoint and result.checkpoint is not None:
        with result.checkpoint.as_directory() as d:
            client.log_artifact(run_id, os.path.join(d, checkpoint.CHECKPOINT_FILE), checkpoint.ARTIFACT_DIR)
            if as_model:
                run_records.log_checkpoint_model(tracking_uri, run_id, os.path.join(d, checkpoint.CHECKPOINT_FILE),
                                                 step=int((result.metrics or {}).get("epoch", 0)))
        ckpt_file = checkpoint_file(result.checkpoint)
    client.set_terminated(run_id, status="FINISHED")
    return ckpt_file


def checkpoint_file(ckpt: ray.train.Checkpoint) -> str:
    """Where a Ray Train checkpoint's file lives (a local path or an object-store URI)."""
    fs = ckpt.filesystem
    if fs is None or fs.type_name == "local":
        return os.path.join(ckpt.path, checkpoint.CHECKPOINT_FILE)
    return f"{fs.type_name}://{ckpt.path}/{checkpoint.CHECKPOINT_FILE}"


# ---------------------------------------------------------------------------- jobs
def run_pretrain(cfg: PretrainConfig) -> dict:
    init_ray_checked(cfg.tracking)
    data_path = resolve_data_path(cfg.data)
    run_name = _run_name("pretrain", cfg.tracking)
    n_train = count_split(data_path, cfg.data.benchmark, "train")
    steps = steps_per_epoch(n_train, cfg)
    tracking_uri, run_id = start_mlflow_run("pretrain", cfg, data_path, run_name, resume=cfg.resume,
                                            unique_name=bool(cfg.tracking.run_name))
    log.info("pretrain run %s: MLflow run %s at %s", run_name, run_id, redact(tracking_uri))
    with run_lifecycle(tracking_uri, run_id):
        console.init_ray()
        datasets = job_datasets(data_path, cfg.data, {"train": "train", "knn_train": "train", "knn_val": "test"},
                                seed=cfg.seed)
        loop_config = {"cfg": cfg, "tracking_uri": tracking_uri, "run_id": run_id, "steps_per_epoch": steps,
                       "data_path": data_path}
        if os.environ.get("SKELMAE_TEST_PID_DIR"):  # test-only: where fault tests find the workers' PIDs
            loop_config["pid_dir"] = os.environ["SKELMAE_TEST_PID_DIR"]
        if cfg.fail_at_epoch >= 0:
            loop_config["fault_marker"] = storage_paths.join(storage_path(cfg.tracking), run_name, "injected_fault")
        result = _fit(pretrain_loop, loop_config, cfg, datasets, run_name, cfg.max_failures, cfg.optim.epochs)
        ckpt = finish_run(tracking_uri, run_id, result, log_checkpoint=True, as_model=True)
    out = {"run_id": run_id, "run_name": run_name, "checkpoint": ckpt, "tracking_uri": tracking_uri,
           "experiment_id": _experiment_of(tracking_uri, run_id), "data_path": data_path,
           "metrics": dict(result.metrics or {})}
    log.info("pretraining done: checkpoint %s", redact(str(ckpt)))
    if cfg.linear_eval:
        lin = LinearEvalConfig(
            pretrained=run_id, model=cfg.model,
            data=cfg.data.model_copy(update={"path": data_path}),
            scaling=cfg.scaling, tracking=cfg.tracking.model_copy(update={"run_name": ""}),
            seed=cfg.seed, knn_k=cfg.knn_k,
        )
        out["linear_eval"] = run_linear_eval(lin)
    return out


def _start_downstream_run(kind: str, cfg: FinetuneConfig | LinearEvalConfig) -> tuple[str, str, str, str, str | None]:
    """Resolve data and `--pretrained` (the model config comes from its checkpoint), then open the MLflow
    run linked to the pretraining run. Returns (data_path, tracking_uri, run_id, run_name, pretrained_file)."""
    init_ray_checked(cfg.tracking)
    data_path = resolve_data_path(cfg.data)
    tracking_uri = resolve_tracking_uri(cfg.tracking.tracking_uri)
    pretrained_file, pretrain_run = (None, None)
    if cfg.pretrained:
        pretrained_file, pretrain_run = resolve_pretrained(cfg.pretrained, tracking_uri)
        cfg.model = checkpoint.model_config_of(pretrained_file)
    run_name = _run_name(kind, cfg.tracking)
    tags = {"pretrained": cfg.pretrained or "random-init", "label_fraction": str(cfg.data.label_fraction)}
    if pretrain_run:
        tags["pretrain_run_id"] = pretrain_run
    resume = getattr(cfg, "resume", False)
    tracking_uri, run_id = start_mlflow_run(kind, cfg, data_path, run_name, extra_tags=tags, resume=resume,
                                            unique_name=kind == "finetune" and bool(cfg.tracking.run_name))
    return data_path, tracking_uri, run_id, run_name, pretrained_file


def run_finetune(cfg: FinetuneConfig) -> dict:
    b = cfg.data.benchmark
    data_path = resolve_data_path(cfg.data)
    subset = label_subset(data_path, b, cfg.data.label_fraction, cfg.data.label_seed)
    steps = steps_per_epoch(count_split(data_path, b, "train", subset), cfg)
    data_path, tracking_uri, run_id, run_name, pretrained_file = _start_downstream_run("finetune", cfg)
    log.info("finetune run %s: MLflow run %s at %s", run_name, run_id, redact(tracking_uri))
    with run_lifecycle(tracking_uri, run_id):
        console.init_ray()
        datasets = job_datasets(data_path, cfg.data, {"train": "train", "val": "test"}, subset, seed=cfg.seed)
        loop_config = {"cfg": cfg, "tracking_uri": tracking_uri, "run_id": run_id, "steps_per_epoch": steps,
                       "pretrained_file": pretrained_file}
        result = _fit(finetune_loop, loop_config, cfg, datasets, run_name, cfg.max_failures, cfg.optim.epochs)
        if result.checkpoint is not None:
            with result.checkpoint.as_directory() as d:
                log_classifier(tracking_uri, run_id, os.path.join(d, checkpoint.CHECKPOINT_FILE), data_path, cfg)
        ckpt = finish_run(tracking_uri, run_id, result, log_checkpoint=True)
    log.info("fine-tuning done: val_acc %s, checkpoint %s", result.metrics.get("val_acc"), redact(str(ckpt)))
    return {"run_id": run_id, "run_name": run_name, "checkpoint": ckpt, "tracking_uri": tracking_uri,
            "experiment_id": _experiment_of(tracking_uri, run_id), "metrics": dict(result.metrics or {}),
            "model_uri": f"runs:/{run_id}/model"}


def run_linear_eval(cfg: LinearEvalConfig) -> dict:
    data_path, tracking_uri, run_id, run_name, pretrained_file = _start_downstream_run("linear_eval", cfg)
    with run_lifecycle(tracking_uri, run_id):
        console.init_ray()
        b = cfg.data.benchmark
        subset = label_subset(data_path, b, cfg.data.label_fraction, cfg.data.label_seed)
        datasets = job_datasets(data_path, cfg.data, {"train": "train", "val": "test"}, subset, seed=cfg.seed)
        # The validation split is encoded twice with pretrained weights: once more by the random init.
        total = (count_split(data_path, b, "train", subset)
                 + count_split(data_path, b, "test") * (2 if pretrained_file else 1))
        with EvalProgress("linear eval features", total) as progress:
            loop_config = {"cfg": cfg, "tracking_uri": tracking_uri, "run_id": run_id,
                           "pretrained_file": pretrained_file, "progress": progress.counter}
            # Feature extraction is stateless: nothing to checkpoint, a failure reruns it.
            result = _fit(linear_eval_loop, loop_config, cfg, datasets, run_name, max_failures=0)
        finish_run(tracking_uri, run_id, result, log_checkpoint=False)
    run = MlflowClient(tracking_uri).get_run(run_id)
    metrics = run.data.metrics
    log.info("linear eval: linear_acc %.4f, knn_acc %.4f (MLflow run %s; `mlflow ui --backend-store-uri %s`)",
             metrics.get("linear_acc"), metrics.get("knn_acc"), run_id, redact(tracking_uri))
    return {"run_id": run_id, "run_name": run_name, "metrics": metrics, "tracking_uri": tracking_uri,
            "experiment_id": run.info.experiment_id}

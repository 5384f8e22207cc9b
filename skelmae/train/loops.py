"""The per-worker training loops that Ray Train runs: MAE pretraining, fine-tuning, linear eval.

Each loop gets `config = {"cfg": <job config model>, ...driver facts}` and reads its data shard
with `ray.train.get_dataset_shard`. Rank 0 alone logs to the job's MLflow run (created by the
driver); every rank calls `ray.train.report` the same number of times.
"""

from __future__ import annotations

import os
import random
import shutil
import tempfile
import time
from functools import partial
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import ray.train
import ray.train.torch
import torch
import torch.distributed as dist
import torch.nn.functional as F
from mlflow.entities import Metric
from mlflow.tracking import MlflowClient

from skelmae import checkpoint, storage_paths
from skelmae.config.jobs import FinetuneConfig, LinearEvalConfig, PretrainConfig, ScalingConfig
from skelmae.data.batches import SequenceBatcher, load_split_arrays
from skelmae.model.mae import SkeletonClassifier, SkeletonMAE, load_encoder_weights
from skelmae.track.evaluation_figures import log_confusion, log_feature_map
from skelmae.track.reconstruction import reconstruction_figure
from skelmae.train.engine import autocast, make_optimizer, train_one_epoch
from skelmae.train.host_memory import return_freed_tensors_to_os
from skelmae.train.probes import knn_accuracy, topk_accuracy, train_linear_probe
from skelmae.train.rng import get_rng_states, set_rng_states
from skelmae.train.schedule import lr_at, param_groups


# ---------------------------------------------------------------------------- worker plumbing
class RunLogger:
    """Rank 0's handle on the job's MLflow run (the driver created it and owns its lifecycle)."""

    def __init__(self, tracking_uri: str, run_id: str):
        self.client = MlflowClient(tracking_uri)
        self.run_id = run_id

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        ts = int(time.time() * 1000)
        batch = [Metric(k, float(v), ts, step) for k, v in metrics.items()]
        self.client.log_batch(self.run_id, metrics=batch)

    def log_figure(self, figure, path: str) -> None:
        self.client.log_figure(self.run_id, figure, path)

    def log_table(self, df, path: str) -> None:
        self.client.log_table(self.run_id, df, path)


def _setup(seed: int, scaling: ScalingConfig) -> tuple[int, int, torch.device]:
    ctx = ray.train.get_context()
    rank, world = ctx.get_world_rank(), ctx.get_world_size()
    return_freed_tensors_to_os()  # before the model and the first batch exist
    if scaling.torch_threads:
        torch.set_num_threads(scaling.torch_threads)
    # The global generators (masking, dropout, drop path) start here and continue across epochs; a
    # restart sets them back to the checkpoint's states (`_restore`).
    torch.manual_seed(seed * 1000 + rank)
    np.random.seed((seed * 1000 + rank) % 2**32)
    random.seed(seed * 1000 + rank)
    return rank, world, ray.train.torch.get_device()


def _maybe_write_pid(pid_dir: str | None, rank: int) -> None:
    # Test-only: where a fault test finds the worker process it kills with SIGKILL.
    if pid_dir:
        Path(pid_dir).mkdir(parents=True, exist_ok=True)
        Path(pid_dir, f"rank{rank}").write_text(str(os.getpid()))


def _gather_rng(world: int) -> list[dict]:
    """Every rank's generator states (all ranks must call it), rank order."""
    mine = get_rng_states()
    if not _distributed(world):
        return [mine]
    parts: list = [None] * world
    dist.all_gather_object(parts, mine)
    return parts


def _restore(state: dict, model, optimizer, rank: int) -> int:
    """Load a checkpoint's model, optimizer and this rank's generator states; returns the next epoch."""
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    rng = state.get("rng") or []
    if rank < len(rng):
        set_rng_states(rng[rank])
    return state["epoch"] + 1


def _epoch_batches(shard, cfg, epoch: int, rank: int, device, seed: int):
    """This worker's micro-batches of one epoch: shuffled in a local buffer seeded by (seed, epoch, rank),
    each sample augmented by draws seeded by (seed, epoch, sample ID) - the same whichever worker reads it -
    the remainder dropped."""
    micro = cfg.optim.batch_size // (cfg.scaling.num_workers * cfg.optim.accum_steps)
    batcher = SequenceBatcher(
        cfg.model.num_frames, train=True, crop=(cfg.data.crop_min, cfg.data.crop_max),
        rotate_degrees=cfg.data.rotate_degrees, scale=cfg.data.scale, seed=[seed, epoch],
    )
    shuffle = cfg.data.shuffle_buffer
    return shard.iter_torch_batches(
        batch_size=micro, collate_fn=batcher, drop_last=True, prefetch_batches=2,
        pin_memory=device.type == "cuda",
        local_shuffle_buffer_size=shuffle or None,
        local_shuffle_seed=(seed * 1_000_003 + epoch * 1009 + rank) % 2**31 if shuffle else None,
    )


def _staging_dir(run_id: str) -> str:
    """This run's local staging directory for checkpoints before Ray Train copies them to storage.

    Per run, so a worker restarted after a SIGKILL (which skips the clean-up in `_report`) can remove
    what its predecessor left, and only that."""
    return os.path.join(tempfile.gettempdir(), f"skelmae-ckpt-{run_id}")


def _clear_staging(run_id: str) -> None:
    shutil.rmtree(_staging_dir(run_id), ignore_errors=True)


def _report(metrics: dict, state: dict | None) -> None:
    """`ray.train.report`, with the state (if any) as a checkpoint whose temporary directory is removed
    once Ray Train has copied it to storage."""
    if state is None:
        ray.train.report(metrics)
        return
    base = _staging_dir(state["mlflow_run_id"])
    os.makedirs(base, exist_ok=True)
    tmp = tempfile.mkdtemp(dir=base)
    try:
        checkpoint.save(state, os.path.join(tmp, checkpoint.CHECKPOINT_FILE))
        ray.train.report(metrics, checkpoint=ray.train.Checkpoint.from_directory(tmp))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _distributed(world: int) -> bool:
    return world > 1 and dist.is_available() and dist.is_initialized()


def _sum_across(values: list[float], world: int) -> list[float]:
    t = torch.tensor(values, dtype=torch.float64)
    if _distributed(world):
        dist.all_reduce(t)
    return t.tolist()


def _unwrap(model: torch.nn.Module) -> torch.nn.Module:
    return model.module if hasattr(model, "module") else model


@torch.no_grad()
def _shard_features(encoder, shard_name: str, batcher, batch_size, device, world, precision, progress=None):
    """Pooled features of this worker's shard, gathered from all workers: ([N, D], [N]).

    `progress`: the driver's `SequenceCounter` actor (skelmae.train.progress), told after each batch."""
    feats, labels = [], []
    for batch in ray.train.get_dataset_shard(shard_name).iter_torch_batches(
        batch_size=batch_size, collate_fn=batcher
    ):
        with autocast(device, precision):
            _, pooled = encoder.encode(batch["x"].to(device))
        feats.append(pooled.float().cpu())
        labels.append(batch["label"])
        if progress is not None:
            progress.add.remote(len(batch["label"]))
    f = torch.cat(feats) if feats else torch.zeros(0, 0)
    y = torch.cat(labels) if labels else torch.zeros(0, dtype=torch.long)
    if _distributed(world):
        parts: list = [None] * world
        dist.all_gather_object(parts, (f, y))
        f = torch.cat([p[0] for p in parts if len(p[0])])
        y = torch.cat([p[1] for p in parts if len(p[1])])
    return f, y


def _from_ray(ckpt: ray.train.Checkpoint) -> dict:
    with ckpt.as_directory() as d:
        return checkpoint.load(os.path.join(d, checkpoint.CHECKPOINT_FILE))


def _maybe_inject_fault(epoch: int, fail_at_epoch: int, marker: str | None, rank: int) -> None:
    # Test-only: crash once (the marker survives the restart, so the retry runs through).
    # The marker may be on object storage (s3://...): pyarrow filesystems, not os.path.
    if epoch == fail_at_epoch and rank == 0 and marker and not storage_paths.exists(marker):
        storage_paths.write_text(marker, f"crashed at epoch {epoch}\n")
        raise RuntimeError(f"injected fault at epoch {epoch} (fail_at_epoch)")


# ---------------------------------------------------------------------------- pretraining
def _reconstruction_loss(model, x, y):
    loss, _, _ = model(x)
    return loss, None


def pretrain_loop(config: dict) -> None:
    cfg: PretrainConfig = config["cfg"]
    rank, world, device = _setup(cfg.seed, cfg.scaling)
    _maybe_write_pid(config.get("pid_dir"), rank)
    if rank == 0:
        _clear_staging(config["run_id"])
    logger = RunLogger(config["tracking_uri"], config["run_id"]) if rank == 0 else None

    model = SkeletonMAE(cfg.model).to(device)
    optimizer = make_optimizer(param_groups(model, cfg.optim.weight_decay), cfg.optim.lr, device, betas=(0.9, 0.95))
    start_epoch, last_score = 0, 0.0
    ckpt = ray.train.get_checkpoint()
    if ckpt is not None:
        state = _from_ray(ckpt)
        start_epoch = _restore(state, model, optimizer, rank)
        last_score = state.get("last_score", 0.0)
    model = ray.train.torch.prepare_model(model)
    mae = _unwrap(model)

    steps_per_epoch = max(1, config["steps_per_epoch"])
    shard = ray.train.get_dataset_shard("train")
    eval_batcher = SequenceBatcher(cfg.model.num_frames, train=False, eval_crop=cfg.data.eval_crop)
    figure_samples = _figure_samples(config.get("data_path"), cfg) if rank == 0 else None

    for epoch in range(start_epoch, cfg.optim.epochs):
        _maybe_inject_fault(epoch, cfg.fail_at_epoch, config.get("fault_marker"), rank)
        batches = _epoch_batches(shard, cfg, epoch, rank, device, cfg.seed)
        stats = train_one_epoch(model, batches, optimizer, device, epoch, steps_per_epoch, cfg.optim,
                                cfg.scaling.precision, _reconstruction_loss)
        elapsed = stats.elapsed_s
        loss_total, seen_total, wait_max = _sum_across([stats.loss_sum, stats.seen, stats.wait_s], world)
        metrics = {
            "epoch": epoch,
            "loss": loss_total / max(seen_total, 1),
            "lr": lr_at(epoch + 1, cfg.optim),
            "steps": stats.steps,
            "sequences_per_s": seen_total / elapsed,
            "loader_sequences_per_s": seen_total / max(wait_max, 1e-9),
        }
        last = epoch == cfg.optim.epochs - 1
        if (cfg.knn_every and (epoch + 1) % cfg.knn_every == 0) or last:
            mae.eval()
            bank = _shard_features(mae, "knn_train", eval_batcher, cfg.optim.batch_size, device, world,
                                   cfg.scaling.precision)
            query = _shard_features(mae, "knn_val", eval_batcher, cfg.optim.batch_size, device, world,
                                    cfg.scaling.precision)
            metrics["knn_acc"] = last_score = knn_accuracy(*bank, *query, k=cfg.knn_k)
        # Per-epoch metrics reach MLflow through the driver's controller callback (EpochMetricsLogger),
        # once each, after Ray Train registered the checkpoint that covers them.
        # Tune's objective: the latest downstream score (pretraining loss is not comparable across
        # mask ratios), carried between evaluation epochs so every report has it.
        metrics["score"] = last_score
        figure_due = (cfg.figure_every and (epoch + 1) % cfg.figure_every == 0) or last
        if rank == 0 and figure_samples is not None and figure_due:
            _log_reconstruction(mae, figure_samples, cfg, logger, epoch, device)
        saved = None
        if (epoch + 1) % cfg.checkpoint_every == 0 or last:
            rng = _gather_rng(world)
            if rank == 0:
                saved = checkpoint.training_state(mae, optimizer, epoch, steps_per_epoch, cfg, config["run_id"],
                                                  last_score=last_score, rng=rng)
        _report(metrics, saved)


NUM_FIGURE_SAMPLES = 4


def _figure_samples(data_path: str | None, cfg: PretrainConfig) -> dict | None:
    """The fixed validation samples drawn every figure interval (first IDs of the test split)."""
    if not data_path:
        return None
    x, y, ids = load_split_arrays(data_path, cfg.data.benchmark, "test", cfg.model.num_frames, cfg.data.eval_crop,
                                  limit=NUM_FIGURE_SAMPLES)
    return {"x": x, "label": y, "sample_id": ids} if ids else None


def _log_reconstruction(mae, samples: dict, cfg: PretrainConfig, logger: RunLogger, epoch: int, device) -> None:
    fig = reconstruction_figure(mae, samples, cfg.model, device=device, seed=cfg.seed)
    logger.log_figure(fig, f"reconstructions/epoch_{epoch:03d}.png")
    plt.close(fig)


# ---------------------------------------------------------------------------- fine-tuning
def _classification_loss(label_smoothing: float, model, x, y):
    logits = model(x)
    return F.cross_entropy(logits.float(), y, label_smoothing=label_smoothing), logits


def finetune_loop(config: dict) -> None:
    cfg: FinetuneConfig = config["cfg"]
    rank, world, device = _setup(cfg.seed, cfg.scaling)
    if rank == 0:
        _clear_staging(config["run_id"])
    logger = RunLogger(config["tracking_uri"], config["run_id"]) if rank == 0 else None

    # Drop path is a fine-tuning regulariser: the pretrained model's own rate (usually 0) does not apply.
    model_cfg = cfg.model.model_copy(update={"drop_path": 0.0 if cfg.freeze_encoder else cfg.drop_path})
    model = SkeletonClassifier(model_cfg, cfg.data.num_classes, dropout=cfg.dropout)
    if config.get("pretrained_file"):
        load_encoder_weights(model, config["pretrained_file"])
    if cfg.freeze_encoder:  # linear protocol: only the head learns (DDP skips frozen parameters)
        model.encoder.requires_grad_(False)
    model.to(device)
    optimizer = make_optimizer(param_groups(model, cfg.optim.weight_decay, cfg.optim.layer_decay), cfg.optim.lr,
                               device)
    start_epoch = 0
    ckpt = ray.train.get_checkpoint()
    if ckpt is not None:
        start_epoch = _restore(_from_ray(ckpt), model, optimizer, rank)
    model = ray.train.torch.prepare_model(model)
    clf = _unwrap(model)

    steps_per_epoch = max(1, config["steps_per_epoch"])
    shard = ray.train.get_dataset_shard("train")
    eval_batcher = SequenceBatcher(cfg.model.num_frames, train=False, eval_crop=cfg.data.eval_crop)
    for epoch in range(start_epoch, cfg.optim.epochs):
        batches = _epoch_batches(shard, cfg, epoch, rank, device, cfg.seed)
        stats = train_one_epoch(model, batches, optimizer, device, epoch, steps_per_epoch, cfg.optim,
                                cfg.scaling.precision, partial(_classification_loss, cfg.label_smoothing))
        elapsed = stats.elapsed_s

        model.eval()
        v_correct, v_top5, v_seen = 0.0, 0.0, 0
        preds, trues = [], []
        with torch.no_grad():
            for batch in ray.train.get_dataset_shard("val").iter_torch_batches(
                batch_size=cfg.optim.batch_size, collate_fn=eval_batcher
            ):
                x, y = batch["x"].to(device), batch["label"].to(device)
                with autocast(device, cfg.scaling.precision):
                    logits = clf(x).float()
                v_correct += (logits.argmax(1) == y).sum().item()
                v_top5 += topk_accuracy(logits, y, 5) * len(y)
                v_seen += len(y)
                preds.append(logits.argmax(1).cpu())
                trues.append(y.cpu())
        totals = _sum_across([stats.loss_sum, stats.correct, stats.seen, v_correct, v_top5, v_seen], world)
        metrics = {
            "epoch": epoch,
            "loss": totals[0] / max(totals[2], 1),
            "train_acc": totals[1] / max(totals[2], 1),
            "val_acc": totals[3] / max(totals[5], 1),
            "val_top5": totals[4] / max(totals[5], 1),
            "lr": lr_at(epoch + 1, cfg.optim),
            "steps": stats.steps,
            "sequences_per_s": totals[2] / elapsed,
        }
        last = epoch == cfg.optim.epochs - 1
        if last:
            y_true, y_pred = _gather_labels(trues, preds, world)
        if rank == 0 and last:
            log_confusion(logger, y_true, y_pred, cfg.data.num_classes)
        saved = None
        if (epoch + 1) % cfg.checkpoint_every == 0 or last:
            rng = _gather_rng(world)
            if rank == 0:
                saved = checkpoint.training_state(clf, optimizer, epoch, steps_per_epoch, cfg, config["run_id"],
                                                  num_classes=cfg.data.num_classes, rng=rng)
        _report(metrics, saved)


def _gather_labels(trues: list, preds: list, world: int) -> tuple[np.ndarray, np.ndarray]:
    y = torch.cat(trues) if trues else torch.zeros(0, dtype=torch.long)
    p = torch.cat(preds) if preds else torch.zeros(0, dtype=torch.long)
    if _distributed(world):
        parts: list = [None] * world
        dist.all_gather_object(parts, (y, p))
        y = torch.cat([q[0] for q in parts])
        p = torch.cat([q[1] for q in parts])
    return y.numpy(), p.numpy()


# ---------------------------------------------------------------------------- linear evaluation
def linear_eval_loop(config: dict) -> None:
    cfg: LinearEvalConfig = config["cfg"]
    rank, world, device = _setup(cfg.seed, cfg.scaling)
    logger = RunLogger(config["tracking_uri"], config["run_id"]) if rank == 0 else None

    # Same construction and seed on every rank, so a random-init baseline is one model, not N.
    torch.manual_seed(cfg.seed)
    encoder = SkeletonMAE(cfg.model)
    random_init = None
    if config.get("pretrained_file"):
        random_init = {k: v.clone() for k, v in encoder.state_dict().items()}
        load_encoder_weights(encoder, config["pretrained_file"])
    encoder.to(device).eval()
    batcher = SequenceBatcher(cfg.model.num_frames, train=False, eval_crop=cfg.data.eval_crop)
    progress = config.get("progress")
    t0 = time.perf_counter()
    train_f, train_y = _shard_features(encoder, "train", batcher, cfg.batch_size, device, world,
                                       cfg.scaling.precision, progress)
    val_f, val_y = _shard_features(encoder, "val", batcher, cfg.batch_size, device, world, cfg.scaling.precision,
                                   progress)
    extract_s = time.perf_counter() - t0
    maps = {"pretrained" if random_init is not None else "random init": val_f}
    if random_init is not None:
        # The same encoder with its random initial weights: the picture of what pretraining learned.
        encoder.load_state_dict(random_init)
        maps["random init"] = _shard_features(encoder, "val", batcher, cfg.batch_size, device, world,
                                              cfg.scaling.precision, progress)[0]

    metrics: dict = {}
    if rank == 0:
        probe = train_linear_probe(train_f, train_y, cfg.data.num_classes, epochs=cfg.epochs, lr=cfg.lr,
                                   weight_decay=cfg.weight_decay, seed=cfg.seed)
        with torch.no_grad():
            logits = probe(val_f)
            train_acc = (probe(train_f).argmax(1) == train_y).float().mean().item()
        metrics = {
            "linear_acc": topk_accuracy(logits, val_y, 1),
            "linear_top5": topk_accuracy(logits, val_y, 5),
            "linear_train_acc": train_acc,
            "knn_acc": knn_accuracy(train_f, train_y, val_f, val_y, k=cfg.knn_k),
            "num_train": len(train_y),
            "num_val": len(val_y),
            "feature_sequences_per_s": (len(train_y) + len(val_y)) / extract_s,
        }
        logger.log_metrics(metrics, step=0)
        log_confusion(logger, val_y.numpy(), logits.argmax(1).numpy(), cfg.data.num_classes)
        log_feature_map(logger, maps, val_y.numpy(), seed=cfg.seed)
    ray.train.report(metrics)

"""Laptop to cluster on one machine: multi-node Ray, S3 storage, an MLflow server, and a node that dies.

The fast tests check the storage rules and the elastic scaling config without Ray. The slow ones share
one cluster-in-a-box (tests/cluster_box.py) for the module: preprocess to s3://, a local storage path
refused, the project's whole sweep test (ASHA, best trial, champion, report, resume) across the nodes
through s3://, then one pretraining run with two workers on two nodes through s3:// that loses a node
mid-run and finishes on the other.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pytest

from data_pipeline.errors import ConfigError
from skelmae import storage_paths
from skelmae.config.jobs import ScalingConfig
from skelmae.train.storage import check_shared_storage

SMALL = ["--model.num_frames", "16", "--optim.batch_size", "8", "--scaling.torch_threads", "1",
         "--linear_eval", "false", "--knn_every", "0", "--figure_every", "100"]


# ---------------------------------------------------------------------------- fast
def test_local_storage_on_several_nodes_is_refused_with_the_fix():
    with pytest.raises(ConfigError) as e:
        check_shared_storage("runs", nodes=3)
    msg = str(e.value)
    assert msg.startswith("tracking.storage_path:") and "3 nodes" in msg
    assert "--tracking.storage_path s3://" in msg and "file://" in msg


def test_shared_or_single_node_storage_passes():
    check_shared_storage("runs", nodes=1)
    check_shared_storage("s3://bucket/runs", nodes=3)
    check_shared_storage("file:///mnt/nfs/runs", nodes=3)


def test_min_workers_makes_training_elastic():
    from skelmae.train.launcher import scaling_config

    assert scaling_config(ScalingConfig(num_workers=2, min_workers=1)).num_workers == (1, 2)
    assert scaling_config(ScalingConfig(num_workers=2)).num_workers == 2
    with pytest.raises(ValueError, match="min_workers"):
        ScalingConfig(num_workers=1, min_workers=2)


def test_storage_paths_on_local_disk(tmp_path):
    marker = storage_paths.join(str(tmp_path), "run", "injected_fault")
    assert not storage_paths.exists(marker)
    storage_paths.write_text(marker, "x")
    assert storage_paths.is_file(marker) and not storage_paths.is_file(str(tmp_path))
    assert storage_paths.local_copy(marker, "/nonexistent") == marker
    assert storage_paths.join("s3://b/runs/", "a", "b") == "s3://b/runs/a/b"
    assert storage_paths.like("b/runs/ckpt", "s3://b/runs") == "s3://b/runs/ckpt"
    assert storage_paths.like("/x/ckpt", "file:///x") == "/x/ckpt" == storage_paths.like("/x/ckpt", "/x")


# ---------------------------------------------------------------------------- the box
@pytest.fixture(scope="module")
def box(_ray_session):
    import ray

    from tests.cluster_box import cluster_box

    ray.shutdown()  # one Ray instance per machine at a time; `ray_local` brings the session's back
    with cluster_box(workers=2) as b:
        yield b


@pytest.fixture(scope="module")
def s3_dataset(box, tmp_path_factory) -> str:
    from data_pipeline.parquet_io import MANIFEST
    from data_pipeline.pipeline import run_preprocess
    from data_pipeline.process import PreprocessConfig
    from data_pipeline.synthetic import generate_dataset

    raw = tmp_path_factory.mktemp("box_raw")
    generate_dataset(str(raw), 80, seed=0)
    out = box.s3("data", "ntu60")
    run_preprocess(str(raw), out, dataset="ntu60", cfg=PreprocessConfig())
    assert storage_paths.is_file(storage_paths.join(out, MANIFEST))
    return out


@pytest.fixture
def node_replaced_after(box):
    """The test loses a worker node; afterwards a fresh one takes its place, so the next tests again
    see two worker nodes, as a cluster whose autoscaler replaces lost nodes would."""
    wanted = len(box.workers)
    yield
    while len(box.workers) < wanted:
        box.add_worker()


def _pretrain_args(box, data: str, name: str, *extra: str) -> list[str]:
    from tests.cluster_box import WORKER_CPUS

    return [*SMALL, "--data.path", data, "--tracking.tracking_uri", box.tracking_uri,
            "--tracking.experiment", "box", "--tracking.run_name", name,
            "--tracking.storage_path", box.s3("runs"), "--scaling.cpus_per_worker", str(WORKER_CPUS), *extra]


def _train_workers(box) -> dict[str, str]:
    """Every RayTrainWorker actor the box has seen, alive or dead: actor ID -> node ID."""
    from ray.util.state import list_actors

    # The box's own dashboard, by address: another Ray on this machine makes "auto" ambiguous.
    url = box.cluster.webui_url
    actors = list_actors(address=url if "://" in url else f"http://{url}",
                         filters=[("class_name", "=", "RayTrainWorker")], detail=True, limit=1000,
                         raise_on_missing_output=False)
    return {a.actor_id: a.node_id for a in actors}


def _train_worker_nodes(box, before: dict[str, str]) -> set[str]:
    """The nodes of the train workers started since `before` (a `_train_workers` listing)."""
    return {node for actor, node in _train_workers(box).items() if actor not in before}


def _wait_for_free_worker_cpus(box, timeout: float = 180) -> None:
    """Block until every worker node's CPUs are free again (the tests before may still be releasing theirs).

    An elastic run sizes itself from its reservation, which counts the nodes' total CPUs, then places its
    workers on the free ones: a node still busy would leave a worker waiting to be placed."""
    import ray

    from tests.cluster_box import NODE_CPUS

    want = NODE_CPUS * len(box.workers)
    deadline = time.time() + timeout
    while (free := ray.available_resources().get("CPU", 0)) < want:
        if time.time() > deadline:
            raise AssertionError(f"the box's worker CPUs are still held after {timeout:.0f} s: {free} of {want} free")
        time.sleep(1)


def _epochs_logged(tracking_uri: str, run_id: str, metric: str = "loss") -> list[int]:
    from mlflow.tracking import MlflowClient

    return sorted(m.step for m in MlflowClient(tracking_uri).get_metric_history(run_id, metric))


@pytest.mark.slow
@pytest.mark.timeout(900, method="thread")
def test_preprocess_to_s3(s3_dataset):
    from data_pipeline.parquet_io import samples_dir

    fs, path = storage_paths.resolve(samples_dir(s3_dataset))
    import pyarrow.fs as pafs

    parts = [f for f in fs.get_file_info(pafs.FileSelector(path)) if f.path.endswith(".parquet")]
    assert parts, f"no Parquet parts under {samples_dir(s3_dataset)}"


@pytest.mark.slow
@pytest.mark.timeout(900, method="thread")
def test_local_storage_path_fails_before_data_and_run(box, tmp_path):
    from mlflow.tracking import MlflowClient

    from skelmae.config.jobs import PretrainConfig
    from skelmae.config.loader import load_config
    from skelmae.train.launcher import run_pretrain

    args = _pretrain_args(box, box.s3("no-such-data"), "local-storage")
    args[args.index("--tracking.storage_path") + 1] = str(tmp_path / "runs")
    t0 = time.time()
    with pytest.raises(ConfigError, match="tracking.storage_path: .* 3 nodes.*s3://"):
        run_pretrain(load_config(PretrainConfig, args))
    assert time.time() - t0 < 30  # no data was read (the data path does not even exist)
    client = MlflowClient(box.tracking_uri)
    exp = client.get_experiment_by_name("box")
    if exp is not None:
        assert client.search_runs([exp.experiment_id], "tags.`mlflow.runName` = 'local-storage'") == []


@pytest.mark.slow
@pytest.mark.timeout(900, method="thread")
def test_two_nodes_through_s3_then_a_node_lost_mid_run_shrinks_and_finishes(box, s3_dataset, tmp_path,
                                                                          node_replaced_after):
    """One run does both (CI time): two workers on the two worker nodes read s3:// and checkpoint to s3://;
    after the first epoch one node dies (its processes killed) and the run goes on with one worker.

    It runs before the sweep on purpose. Ray Train reserves each run's workers with Ray's autoscaling
    coordinator, and an elastic run starts with the workers its reservation holds, not with the free CPUs.
    A trial that ASHA stops is killed, so its reservation is never cancelled: it holds for up to 180 s.
    After the sweep, this run could start with one worker on one node (CI saw it)."""
    import mlflow
    from mlflow.tracking import MlflowClient

    from skelmae.checkpoint import ARTIFACT_DIR, CHECKPOINT_FILE
    from skelmae.config.jobs import PretrainConfig
    from skelmae.config.loader import load_config
    from skelmae.train.launcher import run_pretrain

    epochs = 3
    client = MlflowClient(box.tracking_uri)
    removed, run_over = threading.Event(), threading.Event()
    _wait_for_free_worker_cpus(box)
    before = _train_workers(box)
    worker_nodes = {n.node_id for n in box.workers}
    first_nodes: set[str] = set()
    at_removal: dict[str, str] = {}

    def remove_a_node_after_the_first_epoch():
        # Gives up when the run is over: a node removed after it would prove nothing (and would hit the
        # next test's box).
        while not run_over.is_set():
            exp = client.get_experiment_by_name("box")
            runs = client.search_runs([exp.experiment_id], "tags.`mlflow.runName` = 'node-loss'") if exp else []
            if runs and _epochs_logged(box.tracking_uri, runs[0].info.run_id):
                first_nodes.update(_train_worker_nodes(box, before))
                at_removal.update(_train_workers(box))
                victim = box.workers[-1]
                box.cluster.remove_node(victim, allow_graceful=False)  # a real loss: its processes killed
                box.workers.remove(victim)
                removed.set()
                return
            time.sleep(1)

    watcher = threading.Thread(target=remove_a_node_after_the_first_epoch, daemon=True)
    watcher.start()
    try:
        out = run_pretrain(load_config(PretrainConfig, _pretrain_args(
            box, s3_dataset, "node-loss", "--optim.epochs", str(epochs), "--scaling.num_workers", "2",
            "--scaling.min_workers", "1", "--max_failures", "3")))
    finally:
        run_over.set()
        watcher.join(timeout=60)
    assert removed.is_set(), "the run ended before a node could be removed"
    assert first_nodes == worker_nodes, "the two train workers of the first epoch did not run on the two nodes"
    # It shrank: after the loss, the run went on in a new train worker on the node left.
    assert _train_worker_nodes(box, at_removal) == {n.node_id for n in box.workers}, "no restart on the node left"
    run = client.get_run(out["run_id"])
    assert run.info.status == "FINISHED"
    assert run.data.tags["git_commit"] != "unknown"
    assert _epochs_logged(box.tracking_uri, out["run_id"]) == list(range(epochs)), "an epoch logged twice or lost"
    assert out["checkpoint"].startswith("s3://") and storage_paths.is_file(out["checkpoint"])
    # Proxied artifacts: the client asked the server, which wrote into the bucket.
    assert run.info.artifact_uri.startswith("mlflow-artifacts:")
    local = mlflow.artifacts.download_artifacts(
        run_id=out["run_id"], artifact_path=f"{ARTIFACT_DIR}/{CHECKPOINT_FILE}", tracking_uri=box.tracking_uri,
        dst_path=str(tmp_path))
    assert os.path.isfile(local)


@pytest.mark.slow
@pytest.mark.timeout(900, method="thread")
def test_sweep_across_nodes_asha_best_champion_report_and_resume(box, s3_dataset):
    """The whole sweep on the cluster: two trials on the two nodes, parent/child MLflow runs, ASHA's
    decisions, checkpoints on s3://, the best trial evaluated and fine-tuned into the champion, the
    report, and a resume from s3:// that reruns nothing."""
    import mlflow
    from mlflow.tracking import MlflowClient

    from dashboards.sweep_report import log_sweep_report
    from skelmae.config.jobs import SweepConfig
    from skelmae.config.loader import load_config
    from skelmae.tune.sweep import run_sweep
    from tests.cluster_box import WORKER_CPUS

    def cfg(*extra: str) -> SweepConfig:
        return load_config(SweepConfig, [
            "--pretrain.data.path", s3_dataset, "--pretrain.model.num_frames", "16",
            "--pretrain.optim.batch_size", "32", "--pretrain.optim.epochs", "2",
            "--pretrain.scaling.torch_threads", "1", "--pretrain.scaling.cpus_per_worker", str(WORKER_CPUS),
            "--pretrain.tracking.tracking_uri", box.tracking_uri, "--pretrain.tracking.experiment", "box-sweep",
            "--pretrain.tracking.storage_path", box.s3("runs"),
            "--mask_ratios", "0.3,0.9", "--grace_period", "1", "--reduction_factor", "2",
            "--name", "box-sweep", "--release_timeout_s", "120", *extra])

    before = _train_workers(box)
    out = run_sweep(cfg("--champion", "sweep-champion", "--champion_epochs", "1"), report=log_sweep_report)
    # Every train worker this sweep started (trials, evaluation, champion) ran on the worker nodes, both used.
    assert _train_worker_nodes(box, before) == {n.node_id for n in box.workers}
    client = MlflowClient(box.tracking_uri)
    parent = client.get_run(out["parent_run_id"])
    assert parent.data.tags["job_kind"] == "sweep"
    assert parent.info.status == "FINISHED"
    children = client.search_runs(
        [parent.info.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{out['parent_run_id']}'"
    )
    assert len(children) == 2
    assert sorted(float(c.data.params["model.mask_ratio"]) for c in children) == [0.3, 0.9]
    decision = {t["run_id"]: t["decision"] for t in out["trials"]}
    for c in children:
        assert "knn_acc" in c.data.metrics and "final_score" in c.data.metrics
        # Tune kills a trial at its last report, even a completed one: the driver closes every child run
        # and attaches its last checkpoint, so any trial can be fine-tuned from its run ID.
        assert c.info.status == ("FINISHED" if decision[c.info.run_id] == "completed" else "KILLED")
        assert c.data.tags["scheduler_decision"] == decision[c.info.run_id]
        # The trial checkpoint sits on s3://: the sweep found it there and logged it.
        # (MLflow also lists the logged model's copy of it under the same path.)
        assert {a.path for a in client.list_artifacts(c.info.run_id, "checkpoint")} == {"checkpoint/checkpoint.pt"}
    # ASHA's decisions are visible: every trial says how it ended and how far it got.
    assert all(d == "completed" or d.startswith("stopped early by ASHA after ") for d in decision.values())
    assert all(1 <= t["epochs_trained"] <= 2 for t in out["trials"])
    assert "completed" in decision.values()
    # The best trial is reported on the parent and is the highest-scoring trial.
    best = max(out["trials"], key=lambda t: t["score"])
    assert parent.data.tags["best_trial_run_id"] == out["best_run_id"] == best["run_id"]
    assert parent.data.metrics["best_score"] == pytest.approx(best["score"]) == out["best_score"]
    assert json.loads(parent.data.tags["best_config"])["mask_ratio"] == best["mask_ratio"]
    # The best trial was evaluated (linear probe, feature map) and fine-tuned into the champion.
    linked = f"tags.pretrain_run_id = '{out['best_run_id']}' and tags.job_kind = 'linear_eval'"
    lin = client.search_runs([parent.info.experiment_id], filter_string=linked)
    assert len(lin) == 1 and "linear_acc" in lin[0].data.metrics
    version = client.get_model_version_by_alias("sweep-champion", "champion")
    assert version.run_id == out["champion"]["run_id"]
    assert client.get_run(version.run_id).data.tags["pretrain_run_id"] == out["best_run_id"]
    assert "sweep-champion@champion" in parent.data.tags["champion_model"]
    # The comparison report and its figures are artifacts of the parent run, with the best run's pictures.
    report = {a.path for a in client.list_artifacts(out["parent_run_id"], "report")}
    assert "report/report.html" in report and any(p.endswith(".png") for p in report)
    html = Path(mlflow.artifacts.download_artifacts(run_id=out["parent_run_id"], artifact_path="report/report.html",
                                                    tracking_uri=box.tracking_uri)).read_text()
    for picture in ("best-reconstructions_", "best-confusion_", "best-features_"):
        assert picture in html, picture

    # Resume from s3://: finished trials are not rerun, so their child runs gain no new metric steps ...
    steps = {c.info.run_id: len(client.get_metric_history(c.info.run_id, "loss")) for c in children}
    again = run_sweep(cfg("--resume", "--evaluate_best", "false"), report=log_sweep_report)
    assert again["parent_run_id"] == out["parent_run_id"]
    assert {rid: len(client.get_metric_history(rid, "loss")) for rid in steps} == steps
    # ... and are not recorded a second time.
    assert all(len(client.get_metric_history(rid, "final_score")) == 1 for rid in steps)
    assert len(client.search_runs(
        [parent.info.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{out['parent_run_id']}'"
    )) == 2

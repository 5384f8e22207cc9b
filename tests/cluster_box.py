"""Cluster in a box: a Ray head and two worker nodes, an S3 server and an MLflow server, all on one machine.

What a cluster has that a laptop does not, on loopback and started/stopped by us:
- Ray: `ray.cluster_utils.Cluster`, a head that does no work (0 CPUs, like a cluster's head node) and two
  worker nodes, each with its OWN temp dir (its private disk: object spilling, logs, sessions);
- object storage: moto's server mode, which serves the real S3 HTTP API; one bucket;
- tracking: `mlflow server` whose artifacts it proxies into that bucket (clients never see S3).

Every node inherits the AWS_* variables from this process, as cluster nodes get an instance profile.
By hand (three terminals' worth in one):

    python -m tests.cluster_box          # starts everything, prints the addresses, waits for Ctrl-C
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

BUCKET = "skelmae-box"
# A worker node holds one train worker (WORKER_CPUS) and keeps a whole CPU for Ray Data's tasks (its
# file-listing task needs one): two train workers can only be placed on two different nodes.
NODE_CPUS = 3
WORKER_CPUS = 1.6
# MLflow 3's job runner (7 huey consumer processes, ~1.5 GB) serves nothing the tests use; on 2 cores it
# costs a minute of CPU. Every test's `mlflow server` runs without it.
MLFLOW_SERVER_ENV = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
AWS_ENV = {"AWS_ACCESS_KEY_ID": "box-key", "AWS_SECRET_ACCESS_KEY": "box-secret", "AWS_REGION": "us-east-1",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_http(url: str, proc: subprocess.Popen, log: Path, what: str, timeout: float = 240) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:  # not listening yet (a dropped connection is one too)
            time.sleep(0.5)
        except http.client.HTTPException as e:  # something else took the port: say so, do not wait
            raise RuntimeError(f"{what}: {url} answers, but not over HTTP ({e!r}); its port was taken") from e
    raise RuntimeError(f"{what} did not answer {url} in {timeout:g} s: {log.read_text()[-2000:]}")


def _die_with_parent() -> None:
    # Runs in the child before exec: SIGTERM when the test process dies, even by os._exit (a pytest
    # timeout), so no server outlives the session. Linux only; elsewhere the `finally` below must do.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _start(args: list[str], log: Path, env: dict | None = None) -> subprocess.Popen:
    # Own process group: stopping the server stops its workers too.
    return subprocess.Popen(args, stdout=open(log, "wb"), stderr=subprocess.STDOUT, env=env,
                            start_new_session=True, preexec_fn=_die_with_parent)


def _stop(proc: subprocess.Popen) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=20)
            return
        except subprocess.TimeoutExpired:
            continue


@dataclass
class ClusterBox:
    root: Path
    s3_endpoint: str
    tracking_uri: str
    ray_address: str
    cluster: object  # ray.cluster_utils.Cluster
    workers: list = field(default_factory=list)  # the worker nodes, in the order added

    def s3(self, *parts: str) -> str:
        return "s3://" + "/".join([BUCKET, *parts])

    def node_temp_dirs(self) -> list[str]:
        return [n.get_temp_dir_path() for n in self.workers]

    def add_worker(self) -> None:
        """One more worker node, as a cluster's autoscaler adds one: say, in place of a lost one."""
        self.workers.append(_add_worker(self.cluster, self.root))
        self.cluster.wait_for_nodes(timeout=120)


def _moto(root: Path, procs: list, port: int) -> str:
    log = root / "moto.log"
    procs.append(_start([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], log))
    url = f"http://127.0.0.1:{port}"
    _wait_http(f"{url}/moto-api/", procs[-1], log, "moto S3 server")
    return url


def _mlflow(root: Path, procs: list) -> str:
    port = free_port()
    log = root / "mlflow.log"
    env = {**os.environ, **MLFLOW_SERVER_ENV}
    procs.append(_start(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
         "--backend-store-uri", f"sqlite:///{root}/mlflow.db",
         # Proxied artifacts: clients upload to the server, the server writes to the bucket.
         "--artifacts-destination", f"s3://{BUCKET}/mlartifacts", "--workers", "1"], log, env))
    url = f"http://127.0.0.1:{port}"
    _wait_http(f"{url}/health", procs[-1], log, "mlflow server")
    return url


def _node_ports() -> dict:
    # Ray's fixed default ports (dashboard agent 52365, ...) may belong to another Ray on this machine.
    return {"node_ip_address": "127.0.0.1", "dashboard_agent_listen_port": free_port(),
            "metrics_export_port": free_port(), "metrics_agent_port": free_port(),
            "runtime_env_agent_port": free_port()}


def _add_worker(cluster, root: Path):
    # Each node its own temp dir, never reused: a lost node's dir is its disk, gone with it.
    n = 0
    while (root / f"node{n}").exists():
        n += 1
    return cluster.add_node(num_cpus=NODE_CPUS, temp_dir=str(root / f"node{n}"),
                            object_store_memory=200 * 1024**2, **_node_ports())


@contextlib.contextmanager
def cluster_box(workers: int = 2) -> Iterator[ClusterBox]:
    """Start the box; on exit stop exactly what it started and restore the environment.

    The caller must not hold another Ray instance in this process (call `ray.shutdown()` first): with
    several Ray instances on a machine Ray Train's placement-group cleaner fails.
    """
    import boto3
    import ray
    import ray._common.utils
    import ray._private.utils
    from ray.cluster_utils import Cluster

    # Short paths: Ray's Unix sockets live under each node's temp dir (108-byte limit).
    root = Path(tempfile.mkdtemp(prefix="skbox-", dir="/tmp"))
    saved_env = {k: os.environ.get(k) for k in [*AWS_ENV, "AWS_ENDPOINT_URL", "MLFLOW_S3_ENDPOINT_URL",
                                                 "MLFLOW_TRACKING_URI", "RAY_ADDRESS",
                                                 "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"]}
    # Cluster writes (and later deletes) the "current cluster" file in Ray's DEFAULT temp dir, which is
    # how `ray.init()` finds another user's `ray start` cluster: keep ours in our own dir instead.
    saved_ray = (ray._private.utils.write_ray_address, ray._common.utils.reset_ray_address)
    ray._private.utils.write_ray_address = functools.partial(saved_ray[0], temp_dir=str(root))
    ray._common.utils.reset_ray_address = functools.partial(saved_ray[1], temp_dir=str(root))
    # ray.init(address="127.0.0.1:P") rewrites loopback to the host's address, where nothing of ours
    # listens: Ray's loopback-only switch (named for macOS/Windows) keeps this process and every node on
    # 127.0.0.1. In-process the constant was read at import, so it is set directly too.
    import ray._private.ray_constants as ray_constants

    saved_loopback = ray_constants.ENABLE_RAY_CLUSTER
    ray_constants.ENABLE_RAY_CLUSTER = False
    procs: list[subprocess.Popen] = []
    cluster = None
    try:
        os.environ.update(AWS_ENV)
        os.environ[ray_constants.ENABLE_RAY_CLUSTERS_ENV_VAR] = "0"
        s3_port = free_port()
        s3_url = f"http://127.0.0.1:{s3_port}"
        os.environ["AWS_ENDPOINT_URL"] = s3_url  # nodes inherit it: set before they start
        os.environ["MLFLOW_S3_ENDPOINT_URL"] = s3_url
        os.environ.pop("RAY_ADDRESS", None)  # "local" would make the job start its own Ray

        # The S3 server before Ray: its port is handed to the nodes in their environment, and Ray's own
        # servers, binding ports as they start, could otherwise take it first.
        _moto(root, procs, s3_port)
        boto3.client("s3", endpoint_url=s3_url).create_bucket(Bucket=BUCKET)
        # Ray next, while the machine is quiet: a raylet must register within Ray's fixed 30 s.
        cluster = Cluster(initialize_head=True, head_node_args={
            "num_cpus": 0, "temp_dir": str(root / "head"), "include_dashboard": True, "dashboard_host": "127.0.0.1",
            "dashboard_port": free_port(), **_node_ports(),
        })
        nodes = [_add_worker(cluster, root) for _ in range(workers)]
        tracking_uri = _mlflow(root, procs)
        os.environ["MLFLOW_TRACKING_URI"] = tracking_uri
        cluster.wait_for_nodes(timeout=120)
        ray.init(address=cluster.address, _node_ip_address="127.0.0.1", configure_logging=False)
        yield ClusterBox(root, s3_url, tracking_uri, cluster.address, cluster, nodes)
    finally:
        if ray.is_initialized():
            ray.shutdown()
        if cluster is not None:
            cluster.shutdown()
        for p in reversed(procs):
            _stop(p)
        ray._private.utils.write_ray_address, ray._common.utils.reset_ray_address = saved_ray
        ray_constants.ENABLE_RAY_CLUSTER = saved_loopback
        for k, v in saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    with cluster_box() as box:
        print(f"Ray      : {box.ray_address} (dashboard {box.cluster.webui_url})")
        print(f"S3       : {box.s3_endpoint} bucket {BUCKET} (AWS_ENDPOINT_URL, keys {AWS_ENV['AWS_ACCESS_KEY_ID']})")
        print(f"MLflow   : {box.tracking_uri}")
        print(f"nodes    : {box.node_temp_dirs()}")
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(3600)

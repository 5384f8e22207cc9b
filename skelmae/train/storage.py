"""Ray Train storage checked before any work: on a multi-node cluster it must be shared storage.

Ray Train writes checkpoints from every worker's node into `storage_path` and reads them back on the
driver. A node-local folder fails only at the first checkpoint, minutes in, after the data load and a
whole epoch; here it fails at once, before data loading and before an MLflow run exists.
"""

from __future__ import annotations

import ray

from data_pipeline.errors import ConfigError
from skelmae.storage_paths import is_uri

FIELD = "tracking.storage_path"


def alive_nodes() -> int:
    """Nodes of the connected Ray cluster that are alive."""
    return sum(1 for n in ray.nodes() if n.get("Alive"))


def check_shared_storage(storage_path: str, nodes: int | None = None) -> None:
    """Raise ConfigError when a cluster of more than one node is given a local storage path.

    `nodes` defaults to the alive nodes of the connected cluster (Ray must be initialised). A local
    path on a one-node cluster is fine (the laptop case); so is any URI (s3://, gs://, ...). A local
    path on several nodes could be an NFS mount seen by all, but nothing here can tell: the user says
    so with a `file://` URI.
    """
    if is_uri(storage_path):
        return
    n = alive_nodes() if nodes is None else nodes
    if n > 1:
        raise ConfigError(
            FIELD,
            f"{storage_path!r} is a local path, but this Ray cluster has {n} nodes: checkpoints written on "
            f"one node are not seen by the others. Give storage every node can reach, e.g. "
            f"`--tracking.storage_path s3://BUCKET/skelmae-runs` (nodes need S3 credentials: an instance "
            f"profile, or AWS_* variables), or, for a folder mounted at the same place on every node (NFS), "
            f"`--tracking.storage_path file:///mnt/shared/runs`.",
        )

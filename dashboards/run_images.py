"""The pictures a run (and the evaluation runs linked to it) logged, for embedding in the report."""

from __future__ import annotations

import tempfile
from pathlib import Path

import mlflow
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

# Artifact folders whose PNGs the report embeds (newest MAX_IMAGES_PER_DIR by name).
ARTIFACT_DIRS = ("reconstructions", "confusion", "features")
MAX_IMAGES_PER_DIR = 3


def _png_artifacts(client: MlflowClient, run_id: str, path: str, depth: int = 3) -> list[str]:
    try:
        entries = client.list_artifacts(run_id, path)
    except (MlflowException, OSError):
        return []
    found = []
    for e in entries:
        if e.is_dir and depth > 0:
            found += _png_artifacts(client, run_id, e.path, depth - 1)
        elif e.path.lower().endswith(".png"):
            found.append(e.path)
    return found


def run_images(run_id: str, tracking_uri: str) -> dict[str, bytes]:
    """artifact path -> PNG bytes under ARTIFACT_DIRS (newest few per folder, by name) of the run and
    of the evaluation runs linked to it (tag `pretrain_run_id`: its linear eval's confusion matrix and
    feature map, a fine-tune's confusion matrix)."""
    client = MlflowClient(tracking_uri)
    run = client.get_run(run_id)
    linked = client.search_runs([run.info.experiment_id], filter_string=f"tags.pretrain_run_id = '{run_id}'",
                                order_by=["attributes.start_time DESC"], max_results=5)
    images: dict[str, bytes] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for rid in [run_id] + [r.info.run_id for r in linked]:
            for d in ARTIFACT_DIRS:
                for path in sorted(_png_artifacts(client, rid, d))[-MAX_IMAGES_PER_DIR:]:
                    if path in images:
                        continue
                    local = mlflow.artifacts.download_artifacts(run_id=rid, artifact_path=path,
                                                                dst_path=f"{tmp}/{rid}", tracking_uri=tracking_uri)
                    images[path] = Path(local).read_bytes()
    return images

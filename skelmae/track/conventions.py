"""MLflow conventions of the platform: where runs go, what every run records, how runs link.

Ray workers and Tune trials run in other working directories, so every URI handed to them is
absolute (a relative sqlite path would land in a temporary folder and be lost).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import mlflow
from mlflow.tracking import MlflowClient

REPO_ROOT = Path(__file__).resolve().parents[2]


def resolve_tracking_uri(configured: str = "") -> str:
    """Configured URI, else $MLFLOW_TRACKING_URI, else an embedded sqlite store in the cwd."""
    uri = configured or os.environ.get("MLFLOW_TRACKING_URI", "")
    if not uri:
        uri = f"sqlite:///{Path.cwd().resolve() / 'mlflow.db'}"
    if uri.startswith("sqlite:///") and not uri.startswith("sqlite:////"):
        uri = f"sqlite:///{Path(uri[len('sqlite:///'):]).resolve()}"
    elif "://" not in uri:
        uri = Path(uri).resolve().as_uri()
    return uri


def is_local_store(uri: str) -> bool:
    return uri.startswith(("sqlite:", "file:"))


def ensure_experiment(name: str, tracking_uri: str) -> str:
    """Experiment ID of `name`, created if needed, with an absolute artifact root for local stores."""
    client = MlflowClient(tracking_uri)
    exp = client.get_experiment_by_name(name)
    if exp is not None:
        return exp.experiment_id
    artifact_location = None
    if tracking_uri.startswith("sqlite:///"):
        db = Path(tracking_uri[len("sqlite:///"):])
        artifact_location = (db.parent / "mlartifacts").resolve().as_uri()
    try:
        return client.create_experiment(name, artifact_location=artifact_location)
    except mlflow.exceptions.MlflowException:
        # Another process created it between our lookup and create.
        return client.get_experiment_by_name(name).experiment_id


def git_commit() -> str:
    """The project's git commit (with '-dirty' when the tree has changes), or 'unknown'."""
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO_ROOT, capture_output=True, text=True, timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    if not sha:
        # `ray job submit --working-dir` ships files without .git: the job's env may carry it.
        return os.environ.get("SKELMAE_GIT_COMMIT", "unknown")
    return sha + ("-dirty" if dirty else "")


def file_sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()

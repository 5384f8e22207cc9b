"""MLflow conventions of the platform: where runs go, what every run records, how runs link.

Ray workers and Tune trials run in other working directories, so every URI handed to them is
absolute (a relative sqlite path would land in a temporary folder and be lost).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import mlflow
from mlflow.tracking import MlflowClient
from mlflow.tracking._tracking_service import utils as _tracking_utils

from data_pipeline.redact import redact
from skelmae.checkpoint import ARTIFACT_DIR, CHECKPOINT_FILE

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


# The MLflow 3 UI reads this experiment tag to pick its landing page: without it a new experiment opens
# on the GenAI overview instead of the runs table (values from the UI's ExperimentKind enum).
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
TRAINING_EXPERIMENT_KIND = "custom_model_development"


def ensure_experiment(name: str, tracking_uri: str) -> str:
    """Experiment ID of `name`, created if needed, with an absolute artifact root for local stores.

    The experiment is marked as one of training runs (EXPERIMENT_KIND_TAG), also when it exists
    without a kind; a kind someone already set is left as it is.
    """
    client = MlflowClient(tracking_uri)
    exp = client.get_experiment_by_name(name)
    if exp is None:
        artifact_location = None
        if tracking_uri.startswith("sqlite:///"):
            db = Path(tracking_uri[len("sqlite:///"):])
            artifact_location = (db.parent / "mlartifacts").resolve().as_uri()
        try:
            return client.create_experiment(name, artifact_location=artifact_location,
                                            tags={EXPERIMENT_KIND_TAG: TRAINING_EXPERIMENT_KIND})
        except mlflow.exceptions.MlflowException:
            # Another process created it between our lookup and create.
            exp = client.get_experiment_by_name(name)
            if exp is None:
                raise
    if exp.lifecycle_stage == "active" and EXPERIMENT_KIND_TAG not in exp.tags:
        client.set_experiment_tag(exp.experiment_id, EXPERIMENT_KIND_TAG, TRAINING_EXPERIMENT_KIND)
    return exp.experiment_id


# Where `mlflow ui` serves by default: the UI of a local store (sqlite, file, a database URI).
LOCAL_UI_ADDRESS = "http://127.0.0.1:5000"


def experiment_ui_url(tracking_uri: str, experiment_id: str) -> str:
    """The MLflow UI address that opens the experiment on its runs table.

    An http(s) tracking URI is the server's own address (credentials, query and fragment dropped, a
    path prefix kept); any other store is browsed with `mlflow ui`, at LOCAL_UI_ADDRESS. MLflow 3.17's UI
    opens an experiment on its GenAI overview unless the address asks for `workflowType=machine_learning`
    (the address wins over the mode the browser remembers).
    """
    base = LOCAL_UI_ADDRESS
    parts = urlsplit(tracking_uri)
    if parts.scheme in ("http", "https") and parts.hostname:
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        port = f":{parts.port}" if parts.port else ""
        base = f"{parts.scheme}://{host}{port}{parts.path.rstrip('/')}"
    return f"{base}/#/experiments/{experiment_id}/runs?workflowType=machine_learning"


@contextmanager
def tracking_uri_set_to(uri: str) -> Iterator[None]:
    """Point MLflow's fluent API (`mlflow.start_run`, `search_runs`, logged-model lookups) at `uri` for a
    block, then restore both the process's tracking URI and $MLFLOW_TRACKING_URI (mlflow.set_tracking_uri
    writes the variable), so that library calls leave the caller's store as they found it."""
    old_global = _tracking_utils._tracking_uri
    old_env = os.environ.get("MLFLOW_TRACKING_URI")
    try:
        mlflow.set_tracking_uri(uri)
        yield
    finally:
        mlflow.set_tracking_uri(old_global)
        if old_env is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = old_env


def git_commit() -> str:
    """The project's git commit (with '-dirty' when the tree has changes), or 'unknown'.

    $SKELMAE_GIT_COMMIT wins when set: `ray job submit --working-dir` ships files without .git, so the
    submitter passes the commit in the job's runtime environment (README, "From laptop to cluster").
    """
    if os.environ.get("SKELMAE_GIT_COMMIT"):
        return os.environ["SKELMAE_GIT_COMMIT"]
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
        return "unknown"
    return sha + ("-dirty" if dirty else "")


def file_sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def resolve_pretrained(source: str, tracking_uri: str) -> tuple[str, str | None]:
    """A `--pretrained` value -> (local checkpoint file, pretraining MLflow run ID or None).

    `source` is a checkpoint file, a checkpoint directory holding `checkpoint.pt`, or an MLflow run
    ID whose run logged `checkpoint/checkpoint.pt` (the launcher logs every final checkpoint there).
    """
    p = Path(source).expanduser()
    if p.is_file():
        return str(p.resolve()), None
    if p.is_dir():
        f = p / CHECKPOINT_FILE
        if not f.is_file():
            raise FileNotFoundError(f"pretrained: {source} holds no {CHECKPOINT_FILE}")
        return str(f.resolve()), None
    client = MlflowClient(tracking_uri)
    try:
        client.get_run(source)
    except mlflow.exceptions.MlflowException:
        raise FileNotFoundError(
            f"pretrained: {source!r} is neither a checkpoint path nor a run ID in {redact(tracking_uri)}"
        ) from None
    local = mlflow.artifacts.download_artifacts(
        run_id=source, artifact_path=f"{ARTIFACT_DIR}/{CHECKPOINT_FILE}", tracking_uri=tracking_uri
    )
    return local, source

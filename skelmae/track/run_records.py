"""MLflow's own records for a training run, beyond params and metrics: system metrics (CPU, memory,
GPU, disk, network under `system/`), the dataset as a run input, and the final checkpoint as a logged
model (the run's "Logged models" tab), all through MlflowClient since the platform's runs are not
fluent runs. None of them may fail a run: a record that cannot be written is a warning.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator

from mlflow.entities import Dataset, DatasetInput, InputTag, LoggedModelOutput, LoggedModelStatus
from mlflow.tracking import MlflowClient

from data_pipeline.parquet_io import manifest_hash, read_manifest
from data_pipeline.redact import redact

log = logging.getLogger(__name__)
# MLflow stores a dataset digest in 36 characters; the full manifest hash is the run's
# `dataset_manifest_hash` tag.
DIGEST_CHARS = 36
CHECKPOINT_MODEL_TYPE = "skelmae-checkpoint"


@contextlib.contextmanager
def system_metrics(tracking_uri: str, run_id: str, sampling_interval: float = 10.0) -> Iterator[None]:
    """Sample this machine's CPU/memory/GPU into the run while the block runs (the driver's node)."""
    monitor = None
    try:
        from mlflow.system_metrics.system_metrics_monitor import SystemMetricsMonitor

        monitor = SystemMetricsMonitor(run_id, sampling_interval=sampling_interval, resume_logging=True,
                                       tracking_uri=tracking_uri)
        monitor.start()
    except Exception as e:  # noqa: BLE001 - e.g. psutil missing: the run goes on without them
        log.warning("system metrics not recorded: %s", e)
        monitor = None
    try:
        yield
    finally:
        if monitor is not None:
            with contextlib.suppress(Exception):
                monitor.finish()


def log_dataset_input(tracking_uri: str, run_id: str, data_path: str, name: str, context: str = "training") -> None:
    """The Parquet dataset as the run's input (the run page's "Datasets used"): digest from its manifest,
    source its (redacted) path, its row count as the profile."""
    try:
        digest = manifest_hash(data_path)[:DIGEST_CHARS]
        uri = data_path if "://" in data_path else os.path.abspath(data_path)
        counts = read_manifest(data_path).get("counts", {})
        entity = Dataset(
            name=name, digest=digest,
            source_type=uri.split("://", 1)[0] if "://" in uri else "local",
            source=json.dumps({"uri": redact(uri)}),
            profile=json.dumps({"rows": counts.get("rows_out"), "files_in": counts.get("files_in")}),
        )
        MlflowClient(tracking_uri).log_inputs(
            run_id, datasets=[DatasetInput(entity, tags=[InputTag("mlflow.data.context", context)])]
        )
    except Exception as e:  # noqa: BLE001
        log.warning("dataset input not recorded: %s", e)


def log_checkpoint_model(tracking_uri: str, run_id: str, checkpoint_file: str, name: str = "checkpoint",
                         step: int = 0) -> str | None:
    """The final checkpoint as a logged model of the run (a copy of the file; no pickled code:
    `skelmae.checkpoint` reads it with weights_only). Returns the model ID."""
    client = MlflowClient(tracking_uri)
    try:
        run = client.get_run(run_id)
        model = client.create_logged_model(run.info.experiment_id, name=name, source_run_id=run_id,
                                           model_type=CHECKPOINT_MODEL_TYPE)
        with tempfile.TemporaryDirectory(prefix="skelmae-model-") as d:
            shutil.copy2(checkpoint_file, os.path.join(d, os.path.basename(checkpoint_file)))
            client.log_model_artifacts(model.model_id, d)
        client.finalize_logged_model(model.model_id, LoggedModelStatus.READY)
        client.log_outputs(run_id, [LoggedModelOutput(model.model_id, step)])
        return model.model_id
    except Exception as e:  # noqa: BLE001
        log.warning("checkpoint not recorded as a logged model: %s", e)
        return None

"""Fetch an experiment's runs (or one sweep's) from MLflow into a pandas frame."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pandas as pd
from mlflow.tracking import MlflowClient

from skelmae.track.conventions import tracking_uri_set_to


class ReportError(Exception):
    """The report cannot be made (unknown experiment, no runs, unknown parent run); str(e) says why."""


def _check_store(uri: str, experiment: str) -> None:
    # MLflow would create an empty sqlite database at a mistyped path; say it is missing instead.
    if uri.startswith("sqlite:///"):
        db = Path(uri[len("sqlite:///"):])
        if not db.is_file():
            raise ReportError(f"experiment '{experiment}' not found in {uri} (no database file at {db})")


def column(df: pd.DataFrame, name: str) -> pd.Series:
    """df[name], or a column of None where no run has that field (search_runs omits such columns)."""
    return df[name] if name in df.columns else pd.Series([None] * len(df), index=df.index, dtype=object)


def load_runs(experiment: str, tracking_uri: str, parent_run_id: str | None = None) -> pd.DataFrame:
    """`mlflow.search_runs` frame of the experiment (or of one sweep: the parent and its children)."""
    _check_store(tracking_uri, experiment)
    client = MlflowClient(tracking_uri)
    exp = client.get_experiment_by_name(experiment)
    if exp is None or exp.lifecycle_stage == "deleted":
        raise ReportError(f"experiment '{experiment}' not found in {tracking_uri}")
    with tracking_uri_set_to(tracking_uri):
        df = mlflow.search_runs(experiment_names=[experiment], output_format="pandas")
    if df.empty:
        raise ReportError(f"experiment '{experiment}' has no runs in {tracking_uri}")
    if parent_run_id:
        is_parent = df["run_id"] == parent_run_id
        if not is_parent.any():
            raise ReportError(
                f"run '{parent_run_id}' not found in experiment '{experiment}' ({tracking_uri})")
        parents = column(df, "tags.mlflow.parentRunId")
        df = df[is_parent | (parents == parent_run_id)].reset_index(drop=True)
    return df

"""The sweep's comparison report, logged to its parent run: the `report` callback of `run_sweep`."""

from __future__ import annotations

from dashboards.compare import build_report, log_report_to_run


def log_sweep_report(experiment: str, tracking_uri: str, parent_run_id: str) -> None:
    report = build_report(experiment, tracking_uri, parent_run_id=parent_run_id)
    log_report_to_run(report, parent_run_id, tracking_uri)

"""Compare the runs of an MLflow experiment (or of one sweep) on one self-contained HTML page.

    python -m dashboards.compare --experiment NAME [--out report.html] [--tracking-uri URI]
                                 [--parent-run RUN_ID] [--no-log]

Runs are ranked against runs of their own job kind only (pretraining by kNN score, fine-tune by
val_acc, linear eval by linear_acc), one table per kind; see dashboards/ranking.py for the rules.
With `--parent-run` the report covers that sweep's parent and trials, and its figures and HTML are
logged under `report/` of the parent run, next to MLflow's built-in run comparison.
"""

from __future__ import annotations

import argparse
import sys

from dashboards.report import REPORT_ARTIFACT_DIR, Report, build_report, log_report_to_run, report_sweep, write_report
from dashboards.runs import ReportError

__all__ = ["Report", "ReportError", "build_report", "log_report_to_run", "main", "report_sweep", "write_report"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m dashboards.compare", description=__doc__.split("\n\n")[0])
    p.add_argument("--experiment", required=True, help="MLflow experiment name")
    p.add_argument("--out", default="report.html", help="HTML file to write (default: report.html)")
    p.add_argument("--tracking-uri", default="",
                   help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI, else sqlite:///<cwd>/mlflow.db)")
    p.add_argument("--parent-run", default=None,
                   help="sweep parent run ID: report only its trials, and log the report under its report/")
    p.add_argument("--no-log", action="store_true", help="with --parent-run, do not log the report to it")
    args = p.parse_args(argv)
    try:
        report = build_report(args.experiment, args.tracking_uri or None, args.parent_run)
        out = write_report(report, args.out)
        logged = []
        if args.parent_run and not args.no_log:
            logged = log_report_to_run(report, args.parent_run, report.tracking_uri)
    except ReportError as e:
        print(f"compare: error: {e}", file=sys.stderr)
        return 1
    best = ", ".join(f"{k} {b.run_id or 'none'}" for k, b in report.best.items()) or "none"
    print(f"wrote {out}: {len(report.runs)} runs, best run {report.best_run_id or 'none'} (per kind: {best})")
    if logged:
        print(f"logged {len(logged)} artifacts under {REPORT_ARTIFACT_DIR}/ of run {args.parent_run}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

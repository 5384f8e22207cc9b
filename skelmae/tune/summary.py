"""What a sweep tells the researcher: each trial's outcome, Tune's live status table, the final table.

A trial that ran every epoch is "completed" (its MLflow run ends FINISHED) even when ASHA's last
decision came at max_t; only a trial stopped before its last epoch is "stopped early" (KILLED), with
the decision in its `scheduler_decision` tag.
"""

from __future__ import annotations

import math

from ray import tune

from skelmae.config.jobs import SweepConfig


def epochs_run(metrics: dict | None) -> int:
    """Epochs a trial trained, from its last report's 0-based `epoch` (Tune's iteration count if absent:
    a restarted Train run reports some epochs twice)."""
    if not metrics:
        return 0
    if metrics.get("epoch") is not None:
        return int(metrics["epoch"]) + 1
    return int(metrics.get("training_iteration", 0))


def trial_decision(errored: bool, epochs_done: int, epochs: int, scheduler: str) -> str:
    """The trial's outcome as recorded in `scheduler_decision` and the final table."""
    if errored:
        return "error"
    if epochs_done >= epochs:
        return "completed"
    if scheduler == "asha":
        return f"stopped early by ASHA after {epochs_done}/{epochs} epochs"
    return f"stopped early after {epochs_done}/{epochs} epochs"


def status_reporter(cfg: SweepConfig) -> tune.CLIReporter:
    """Tune's live status table: the trial's choices, epochs reported so far, the objective and loss."""
    params = {"params/strategy": "strategy", "params/mask_ratio": "mask_ratio"}
    if getattr(cfg, "presets", None):
        params["params/preset"] = "preset"
    for axis in ("lrs", "base_lrs"):
        if getattr(cfg, axis, None):
            params[f"params/{axis[:-1]}"] = axis[:-1]
    return tune.CLIReporter(
        metric_columns={"training_iteration": "epochs", "score": "score", "loss": "loss"},
        parameter_columns=params,
        max_report_frequency=60,
        sort_by_metric=True,  # by TuneConfig's metric and mode (Tune refuses a reporter that sets its own)
    )


def trial_table(trials: list[dict]) -> str:
    """The sweep's final table, best score first: trial, strategy, mask ratio, score, epochs run, decision."""
    header = ("trial", "strategy", "mask ratio", "score", "epochs run", "scheduler decision")
    rows = []
    for t in sorted(trials, key=lambda t: -t["score"] if not math.isnan(t["score"]) else math.inf):
        rows.append((
            str(t.get("trial_id") or "-"), str(t["strategy"]), f"{t['mask_ratio']:.2f}",
            "-" if math.isnan(t["score"]) else f"{t['score']:.4f}", str(t["epochs_trained"]), t["decision"],
        ))
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in [header, *rows]]
    return "\n".join(lines)

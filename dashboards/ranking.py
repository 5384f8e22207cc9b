"""Which runs the report compares with which, what a run's score is, and how "best" is chosen.

Runs are ranked only against runs of their own job kind (tag `job_kind`): a pretraining run's kNN
accuracy and a fine-tune run's validation accuracy measure different things, so one table and one
best run per kind. Sweep trials are pretraining runs; sweep parents and runs without a known kind
are listed but never ranked. `best_rule` words the rule that `choose_best` applies, from the same
inputs, so the page's text cannot drift from what was computed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from dashboards.runs import column


@dataclass(frozen=True)
class Kind:
    key: str  # value of the `job_kind` tag
    title: str  # table heading
    noun: str  # "pretraining run"
    score_metrics: tuple[str, ...]  # a run's score = last logged value of the first of these it has
    score_meaning: str


RANKED_KINDS = (
    Kind("pretrain", "Pretraining runs (sweep trials included)", "pretraining run", ("score", "knn_acc"),
         "kNN accuracy of the encoder's features on the validation split"),
    Kind("finetune", "Fine-tune runs", "fine-tune run", ("val_acc",), "validation accuracy of the fine-tuned model"),
    Kind("linear_eval", "Linear-eval runs", "linear-eval run", ("linear_acc",),
         "validation accuracy of a linear probe on the frozen encoder"),
)
KINDS = {k.key: k for k in RANKED_KINDS}
SWEEP = "sweep"
OTHER = "other"
UNRANKED_TITLES = {SWEEP: "Sweep parent runs (not ranked: their trials are the pretraining runs)",
                   OTHER: "Runs without a known job kind (not ranked)"}
GROUP_ORDER = (*KINDS, SWEEP, OTHER)
# Metric columns listed first, in this order.
SCORE_METRICS = tuple(dict.fromkeys(m for k in RANKED_KINDS for m in k.score_metrics))
# Shown in a table even when equal across its runs (the rest of the equal params go below the tables).
KEY_PARAMS = ("model.mask_strategy", "model.mask_ratio", "model.joint_mask_ratio", "model.frame_mask_ratio",
              "model.preset", "optim.lr", "seed")


@dataclass(frozen=True)
class Best:
    kind: str
    run_id: str | None
    rule: str  # how it was chosen, as the page states it


def group_of(job_kind: object) -> str:
    if job_kind in KINDS or job_kind == SWEEP:
        return str(job_kind)
    return OTHER


def _score(df: pd.DataFrame, groups: pd.Series) -> tuple[pd.Series, pd.Series]:
    score = pd.Series(np.nan, index=df.index, dtype=float)
    which = pd.Series([None] * len(df), index=df.index, dtype=object)
    for kind in RANKED_KINDS:
        mine = groups == kind.key
        for m in kind.score_metrics:
            col = f"metrics.{m}"
            if col not in df.columns:
                continue
            take = mine & score.isna() & df[col].notna()
            score[take] = df.loc[take, col].astype(float)
            which[take] = m
    return score, which


def _metrics_text(kind: Kind) -> str:
    return ", else ".join(f"`{m}`" for m in kind.score_metrics)


def score_rule(kind: Kind) -> str:
    return (f"Score of a {kind.noun} = the last logged value of {_metrics_text(kind)} "
            f"({kind.score_meaning}).")


def _sweep_choice(runs: pd.DataFrame, sweep_choices: dict[str, str]) -> tuple[str, str] | None:
    """(sweep parent ID, chosen trial ID) when every pretraining run here is a trial of one sweep that
    recorded its best trial; then the sweep's choice is the best pretraining run."""
    pre = runs[runs["group"] == "pretrain"]
    parents = set(pre["parent_run_id"])
    if len(parents) != 1:
        return None
    parent = parents.pop()
    chosen = sweep_choices.get(parent) if isinstance(parent, str) else None
    if chosen is None or chosen not in set(pre["run_id"]):
        return None
    return parent, chosen


def choose_best(runs: pd.DataFrame, sweep_choices: dict[str, str]) -> dict[str, Best]:
    """The best run of each ranked kind present in `runs` (a runs_frame without is_best).

    Pretraining: when every pretraining run is a trial of one sweep that recorded `best_trial_run_id`,
    that trial (Tune ranks by the scores it received; a trial stopped early can log one score more
    to MLflow than Tune saw, and only Tune's choice had its linear eval and fine-tune run).
    Otherwise, and for the other kinds: the highest score among the kind's runs that did not fail
    (ties: the earlier start). FAILED runs are never best: their score is from unfinished training.
    """
    out = {}
    for kind in RANKED_KINDS:
        mine = runs[runs["group"] == kind.key]
        if mine.empty:
            continue
        choice = _sweep_choice(runs, sweep_choices) if kind.key == "pretrain" else None
        if choice is not None:
            parent, trial = choice
            name = runs.loc[runs["run_id"] == parent, "run_name"]
            label = f"{name.iloc[0]} ({parent})" if len(name) and isinstance(name.iloc[0], str) else parent
            out[kind.key] = Best(kind.key, trial, (
                f"Best {kind.noun}: the trial that sweep {label} recorded as its best (tag `best_trial_run_id`; "
                "Tune ranks trials by the last score it received), because every pretraining run on this "
                "page is a trial of that sweep."))
            continue
        pool = mine[(mine["status"] != "FAILED") & mine["score"].notna()]
        rule = (f"Best {kind.noun}: the highest score among {kind.noun}s that did not fail "
                "(FAILED runs are never best; ties go to the earlier start).")
        if pool.empty:
            out[kind.key] = Best(kind.key, None, rule + f" None here: no {kind.noun} that did not fail "
                                 f"logged {_metrics_text(kind)}.")
            continue
        ranked = pool.sort_values(["score", "start_time"], ascending=[False, True], kind="stable")
        out[kind.key] = Best(kind.key, str(ranked["run_id"].iloc[0]), rule)
    return out


def runs_frame(df: pd.DataFrame, sweep_choices: dict[str, str] | None = None
               ) -> tuple[pd.DataFrame, dict[str, str], dict[str, Best]]:
    """search_runs frame -> (table frame, params equal across all runs, best run per ranked kind).

    Table columns: run_id, run_name, job_kind, group (a RANKED_KINDS key, "sweep" or "other"),
    parent_run_id, status, start_time, end_time, duration_s, score, score_metric, is_best, then
    `params.*` (varying or KEY_PARAMS) and `metrics.*` (last logged values). Rows are ordered by
    group (GROUP_ORDER), then failed runs last, then by score. `sweep_choices` maps a sweep parent's
    run ID to its `best_trial_run_id` tag (read from `df` when not given).
    """
    job_kind = column(df, "tags.job_kind")
    groups = job_kind.map(group_of)
    score, score_metric = _score(df, groups)
    out = pd.DataFrame({
        "run_id": df["run_id"],
        "run_name": column(df, "tags.mlflow.runName"),
        "job_kind": job_kind,
        "group": groups,
        "parent_run_id": column(df, "tags.mlflow.parentRunId"),
        "status": df["status"],
        "start_time": df["start_time"],
        "end_time": df["end_time"],
        "duration_s": (df["end_time"] - df["start_time"]).dt.total_seconds(),
        "score": score,
        "score_metric": score_metric,
    })
    if sweep_choices is None:
        chosen = column(df, "tags.best_trial_run_id")
        sweep_choices = {rid: c for rid, g, c in zip(df["run_id"], groups, chosen, strict=True)
                         if g == SWEEP and isinstance(c, str) and c}
    best = choose_best(out, sweep_choices)
    out["is_best"] = out["run_id"].isin({b.run_id for b in best.values() if b.run_id})

    constant: dict[str, str] = {}
    keep = []
    for c in sorted(c for c in df.columns if c.startswith("params.")):
        values = df[c].dropna()
        if c[len("params."):] in KEY_PARAMS or values.nunique() > 1:
            keep.append(c)
        elif len(values):
            constant[c[len("params."):]] = str(values.iloc[0])
    metric_cols = sorted((c for c in df.columns if c.startswith("metrics.")),
                         key=lambda c: (SCORE_METRICS.index(c[8:]) if c[8:] in SCORE_METRICS else len(SCORE_METRICS),
                                        c))
    out = pd.concat([out, df[keep], df[metric_cols]], axis=1)

    order = pd.DataFrame({"group": out["group"].map(GROUP_ORDER.index), "failed": out["status"] == "FAILED",
                          "score": -out["score"].fillna(-np.inf), "start": out["start_time"]})
    out = out.loc[order.sort_values(["group", "failed", "score", "start"]).index].reset_index(drop=True)
    return out, constant, best

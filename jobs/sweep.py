"""Ray Tune sweep over masking strategy and ratio, each trial scored on a downstream kNN accuracy.

    python jobs/sweep.py                                   # embedded default: 3 ratios, tiny, synthetic
    python jobs/sweep.py --strategies random,joint,frame,spatiotemporal --mask_ratios 0.6,0.75,0.9
    python jobs/sweep.py --search random --num_samples 12 --base_lrs 0.004,0.008,0.016
    python jobs/sweep.py --name my-sweep --resume          # finished trials are not rerun
    python -m dashboards.compare --experiment skelmae     # compare the trials

Fields of skelmae.config.jobs.SweepConfig are flags (`--help` lists them); `--pretrain.X` reaches the
per-trial pretraining config.
"""

import sys

from data_pipeline.redact import redact
from skelmae.config.jobs import SweepConfig
from skelmae.config.loader import load_job_config
from skelmae.console import run_job


def main(argv: list[str]) -> int:
    cfg = load_job_config(SweepConfig, argv, "sweep", __doc__)
    if cfg is None:
        return 2
    # Imported once the config is valid: a bad setting fails in a second, not after torch and Ray load.
    from dashboards.sweep_report import log_sweep_report
    from skelmae.track.conventions import experiment_ui_url
    from skelmae.tune.summary import trial_table
    from skelmae.tune.sweep import run_sweep

    out = run_sweep(cfg, report=log_sweep_report)
    print(f"sweep {out['name']}: MLflow parent run {out['parent_run_id']} ({redact(out['tracking_uri'])})")
    print(trial_table(out["trials"]))
    print(f"best: {out['best_params']} score={out['best_score']:.4f} (run {out['best_run_id']})")
    print(f"MLflow UI: {experiment_ui_url(out['tracking_uri'], out['experiment_id'])}")
    return 0


if __name__ == "__main__":
    sys.exit(run_job("sweep", main, sys.argv[1:]))

"""Ray Tune sweep over masking strategy and ratio, each trial scored on a downstream kNN accuracy.

    python jobs/sweep.py                                   # embedded default: 3 ratios, tiny, synthetic
    python jobs/sweep.py --strategies random,joint,frame,spatiotemporal --mask_ratios 0.6,0.75,0.9
    python jobs/sweep.py --search random --num_samples 12 --lrs 0.0005,0.001,0.002
    python jobs/sweep.py --name my-sweep --resume          # finished trials are not rerun
    python -m dashboards.compare --experiment skelmae     # compare the trials

Fields of skelmae.config.jobs.SweepConfig are flags (`--help` lists them); `--pretrain.X` reaches the
per-trial pretraining config.
"""

import logging
import sys

from dashboards.sweep_report import log_sweep_report
from data_pipeline.errors import ConfigError
from data_pipeline.redact import redact
from skelmae.config.jobs import SweepConfig
from skelmae.config.loader import load_job_config
from skelmae.tune.sweep import run_sweep


def main(argv: list[str]) -> int:
    cfg = load_job_config(SweepConfig, argv, "sweep", __doc__)
    if cfg is None:
        return 2
    # The platform reports progress (run IDs, where the data comes from) through `logging`.
    logging.basicConfig(format="[%(name)s] %(message)s")
    logging.getLogger("skelmae").setLevel(logging.INFO)
    try:
        out = run_sweep(cfg, report=log_sweep_report)
    except ConfigError as e:  # a setting that does not fit the cluster (tracking.storage_path)
        print(f"sweep: config error: {e}", file=sys.stderr)
        return 2
    print(f"sweep {out['name']}: MLflow parent run {out['parent_run_id']} ({redact(out['tracking_uri'])})")
    for t in sorted(out["trials"], key=lambda t: -t["score"]):
        print(f"  {t['strategy']:>15} ratio={t['mask_ratio']:.2f} score={t['score']:.4f} "
              f"epochs={t['epochs_trained']} {t['decision']}")
    print(f"best: {out['best_params']} score={out['best_score']:.4f} (run {out['best_run_id']})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
